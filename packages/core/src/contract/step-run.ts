/**
 * ZenML's step lifecycle, as a flavor sees it: which runs a pipeline step
 * logs to. A flavor says it as data (`stepRunLayout`); the tracker API starts,
 * resumes and ends those runs (`prepareStepRun`, `runStep`, ...).
 */
import { uuidV5 } from './ids.js';

/** ZenML's step-run information, trimmed to what trackers use. */
export interface StepRunInfo {
  pipelineName: string;
  /** The pipeline run's name, shared by all its steps. */
  pipelineRunName: string;
  /** The pipeline run's id. */
  pipelineRunId: string;
  stepName: string;
  /** The step run's id; a retried step has the same one, so its run is resumed, not duplicated. */
  stepRunId: string;
  /** Per-step tracker settings (e.g. `experiment_name`, `nested`, `tags`). */
  settings?: Record<string, unknown> | undefined;
}

export type StepRunMetadata = Record<string, string> & { experiment_tracker_url: string };

/** One run of a step's layout: started with `resume: 'allow'`, so a retried step resumes it. */
export interface StepRunOptions {
  experiment: string;
  name: string;
  /** The run's uid, derived from the pipeline or step run id. */
  id: string;
  tags: Record<string, string>;
}

/**
 * The runs a step logs to: `run`, and with `parent` a run it is nested under
 * (started first, shared by the pipeline's steps, ended after the step's).
 */
export interface StepRunLayout {
  run: StepRunOptions;
  parent?: StepRunOptions | undefined;
}

/** Namespace of the run ids derived from ZenML step run ids (UUIDv5), so a retried step resumes. */
const STEP_RUN_NAMESPACE = '6f1b5c1e-1d0a-4a8e-9a47-7c1c0a2f3e10';

/**
 * The default layout: one run per step, named `<pipeline run>_<step>`, in an
 * experiment named after the pipeline (or the `experiment_name` setting),
 * with an id derived from the step run id.
 */
export function defaultStepRunLayout(info: StepRunInfo): StepRunLayout {
  const settings = info.settings ?? {};
  const experiment =
    typeof settings.experiment_name === 'string' ? settings.experiment_name : info.pipelineName;
  return {
    run: {
      experiment,
      name: `${info.pipelineRunName}_${info.stepName}`,
      id: uuidV5(info.stepRunId, STEP_RUN_NAMESPACE),
      tags: {
        'zenml.pipeline': info.pipelineName,
        'zenml.pipeline_run': info.pipelineRunName,
        'zenml.step': info.stepName,
      },
    },
  };
}
