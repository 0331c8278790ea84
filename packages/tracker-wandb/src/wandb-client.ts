/**
 * W&B's service API: GraphQL (`/graphql`) for runs and files, `file_stream`
 * for history, summary and the final status, and presigned uploads. One HTTP
 * request per call over undici; retries are core's business.
 */
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { Agent, type Dispatcher, request } from 'undici';
import { VERSION } from './version.js';
import type { ResolvedWandbConfig } from './wandb-config.js';
import { rateLimitPauseMs, WandbError } from './wandb-error.js';

const USER_AGENT = `trackstack-wandb/${VERSION}`;

// The documents W&B's own client (wandb-core 0.30) sends, so the service sees the same requests.
const UPSERT_BUCKET = `mutation UpsertBucket ($id: String, $name: String, $project: String, $entity: String, $groupName: String, $description: String, $displayName: String, $notes: String, $commit: String, $config: JSONString, $host: String, $debug: Boolean, $program: String, $repo: String, $jobType: String, $state: String, $sweep: String, $tags: [String!], $summaryMetrics: JSONString) {
	upsertBucket(input: {id:$id,name:$name,groupName:$groupName,modelName:$project,entityName:$entity,description:$description,displayName:$displayName,notes:$notes,config:$config,commit:$commit,host:$host,debug:$debug,jobProgram:$program,jobRepo:$repo,jobType:$jobType,state:$state,sweep:$sweep,tags:$tags,summaryMetrics:$summaryMetrics}) {
		bucket {
			id
			name
			displayName
			description
			config
			sweepName
			project {
				id
				name
				entity {
					id
					name
				}
			}
			historyLineCount
		}
		inserted
	}
}`;

const RUN_RESUME_STATUS = `query RunResumeStatus ($project: String, $entity: String, $name: String!) {
	model(name: $project, entityName: $entity) {
		id
		name
		entity {
			id
			name
		}
		bucket(name: $name, missingOk: true) {
			id
			name
			summaryMetrics
			displayName
			logLineCount
			historyLineCount
			eventsLineCount
			historyTail
			eventsTail
			config
			tags
			notes
			wandbConfig(keys: ["t"])
		}
	}
}`;

const CREATE_RUN_FILES = `mutation CreateRunFiles ($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
	createRunFiles(input: {entityName:$entity,projectName:$project,runName:$run,files:$files}) {
		runID
		uploadHeaders
		files {
			name
			uploadUrl
		}
	}
}`;

// Artifacts, as wandb-core 0.30 saves one (its documents and variables).
const CREATE_ARTIFACT = `mutation CreateArtifact ($input: CreateArtifactInput!) {
	createArtifact(input: $input) {
		artifact {
			id
			state
			artifactSequence {
				latestArtifact {
					id
				}
			}
		}
	}
}`;

const CREATE_ARTIFACT_MANIFEST = `mutation CreateArtifactManifest ($artifactID: ID!, $baseArtifactID: ID, $name: String!, $digest: String!, $entityName: String!, $projectName: String!, $runName: String!, $manifestType: ArtifactManifestType!, $includeUpload: Boolean!) {
	createArtifactManifest(input: {artifactID:$artifactID,baseArtifactID:$baseArtifactID,name:$name,digest:$digest,entityName:$entityName,projectName:$projectName,runName:$runName,type:$manifestType}) {
		artifactManifest {
			id
			file {
				id
				uploadUrl @include(if: $includeUpload)
				uploadHeaders @include(if: $includeUpload)
			}
		}
	}
}`;

const CREATE_ARTIFACT_FILES = `mutation CreateArtifactFiles ($input: CreateArtifactFilesInput!) {
	createArtifactFiles(input: $input) {
		files {
			edges {
				node {
					storagePath
					uploadUrl
					uploadHeaders
					artifact {
						id
					}
				}
			}
		}
	}
}`;

const COMMIT_ARTIFACT = `mutation CommitArtifact ($artifactID: ID!) {
	commitArtifact(input: {artifactID:$artifactID}) {
		artifact {
			id
			digest
		}
	}
}`;

const USE_ARTIFACT = `mutation UseArtifact ($input: UseArtifactInput!) {
	useArtifact(input: $input) {
		artifact {
			id
		}
	}
}`;

const SERVER_FEATURES = `query ServerFeaturesQuery {
	serverInfo {
		features {
			name
			isEnabled
		}
	}
}`;

const VIEWER = `query Viewer {
	viewer {
		id
		entity
		username
	}
}`;

export interface CreateArtifactInput {
  name: string;
  type: string;
  digest: string;
  aliases: readonly string[];
  clientId: string;
  sequenceClientId: string;
  entity: string;
  project: string;
  /** The run that logs it; null for an artifact a user made and a run only uses (a dataset). */
  run: string | null;
  /** JSON text. */
  metadata?: string;
  description?: string;
}

export interface UpsertBucketInput {
  id?: string | null;
  name: string;
  project: string;
  entity?: string | null;
  groupName?: string | null;
  displayName?: string | null;
  notes?: string | null;
  config?: string | null;
  host?: string | null;
  program?: string | null;
  commit?: string | null;
  repo?: string | null;
  jobType?: string | null;
  tags?: string[] | null;
}

export interface Bucket {
  id: string;
  name: string;
  displayName?: string | null;
  project: { id: string; name: string; entity: { id: string; name: string } };
  historyLineCount?: number | null;
}

export interface ResumeStatus {
  id: string;
  name: string;
  summaryMetrics?: string | null;
  historyLineCount?: number | null;
  logLineCount?: number | null;
  eventsLineCount?: number | null;
  historyTail?: string | null;
  config?: string | null;
  tags?: string[] | null;
}

interface FileStreamFile {
  offset: number;
  content: string[];
}

export interface FileStreamRequest {
  files?: Record<string, FileStreamFile>;
  uploaded?: string[];
  complete?: boolean;
  exitcode?: number;
}

export class WandbClient {
  readonly baseUrl: string;
  private readonly agent: Agent;
  private readonly authorization: string;
  private pausedUntil = 0;

  constructor(config: ResolvedWandbConfig) {
    this.baseUrl = config.baseUrl;
    const timeout = config.request_timeout_s * 1000;
    this.agent = new Agent({
      headersTimeout: timeout,
      bodyTimeout: timeout,
      connectTimeout: Math.min(timeout, 30_000),
      keepAliveTimeout: 2_000,
    });
    this.authorization = `Basic ${Buffer.from(`api:${config.api_key ?? ''}`).toString('base64')}`;
  }

  async upsertBucket(input: UpsertBucketInput): Promise<Bucket> {
    // Every variable is sent, null where unset, as W&B's client does.
    const data = await this.graphql<{ upsertBucket: { bucket: Bucket } }>(
      'UpsertBucket',
      UPSERT_BUCKET,
      {
        id: null,
        entity: null,
        groupName: null,
        description: null,
        displayName: null,
        notes: null,
        commit: null,
        config: null,
        host: null,
        debug: null,
        program: null,
        repo: null,
        jobType: null,
        state: null,
        sweep: null,
        tags: null,
        summaryMetrics: null,
        ...input,
      },
    );
    return data.upsertBucket.bucket;
  }

  /** The run as the service holds it, or undefined when it has none of that name. */
  async resumeStatus(
    entity: string | undefined,
    project: string,
    name: string,
  ): Promise<ResumeStatus | undefined> {
    const data = await this.graphql<{ model: { bucket: ResumeStatus | null } | null }>(
      'RunResumeStatus',
      RUN_RESUME_STATUS,
      {
        project,
        entity: entity ?? null,
        name,
      },
    );
    return data.model?.bucket ?? undefined;
  }

  async createRunFiles(entity: string, project: string, run: string, files: string[]) {
    const data = await this.graphql<{
      createRunFiles: {
        runID: string;
        uploadHeaders: string[] | null;
        files: { name: string; uploadUrl: string }[];
      };
    }>('CreateRunFiles', CREATE_RUN_FILES, { entity, project, run, files });
    return data.createRunFiles;
  }

  /** Creates an artifact version (or finds the one with the same digest: `state` COMMITTED). */
  async createArtifact(input: CreateArtifactInput): Promise<{
    id: string;
    state: string;
    latestId: string | undefined;
  }> {
    const data = await this.graphql<{
      createArtifact: {
        artifact: {
          id: string;
          state: string;
          artifactSequence: { latestArtifact: { id: string } | null } | null;
        };
      };
    }>('CreateArtifact', CREATE_ARTIFACT, {
      input: {
        aliases: input.aliases.map((alias) => ({ alias, artifactCollectionName: input.name })),
        artifactCollectionName: input.name,
        artifactCollectionNames: null,
        artifactTypeName: input.type,
        clientID: input.clientId,
        clientMutationId: null,
        description: input.description ?? null,
        digest: input.digest,
        digestAlgorithm: 'MANIFEST_MD5',
        distributedID: null,
        enableDigestDeduplication: true,
        entityName: input.entity,
        historyStep: null,
        labels: null,
        metadata: input.metadata ?? null,
        projectName: input.project,
        runName: input.run,
        sequenceClientID: input.sequenceClientId,
        storageRegion: null,
        ttlDurationSeconds: null,
      },
    });
    const { artifact } = data.createArtifact;
    return {
      id: artifact.id,
      state: artifact.state,
      latestId: artifact.artifactSequence?.latestArtifact?.id ?? undefined,
    };
  }

  /** The artifact's manifest: first without its digest (an id), then with it (an upload URL). */
  async createArtifactManifest(input: {
    artifactId: string;
    baseArtifactId: string | undefined;
    digest: string;
    entity: string;
    project: string;
    run: string;
    includeUpload: boolean;
  }): Promise<{ id: string; uploadUrl?: string; uploadHeaders?: string[] | null }> {
    const data = await this.graphql<{
      createArtifactManifest: {
        artifactManifest: {
          id: string;
          file: { id: string; uploadUrl?: string; uploadHeaders?: string[] | null };
        };
      };
    }>('CreateArtifactManifest', CREATE_ARTIFACT_MANIFEST, {
      artifactID: input.artifactId,
      baseArtifactID: input.baseArtifactId ?? null,
      name: 'wandb_manifest.json',
      digest: input.digest,
      entityName: input.entity,
      projectName: input.project,
      runName: input.run,
      manifestType: 'FULL',
      includeUpload: input.includeUpload,
    });
    const { id, file } = data.createArtifactManifest.artifactManifest;
    return { id, uploadUrl: file.uploadUrl, uploadHeaders: file.uploadHeaders };
  }

  /** Upload URLs for an artifact's files (`uploadUrl` null: the service has the bytes already). */
  async createArtifactFiles(
    artifactId: string,
    manifestId: string,
    files: readonly { name: string; md5: string }[],
  ): Promise<
    { uploadUrl: string | null; uploadHeaders: string[] | null; birthArtifactId: string }[]
  > {
    const data = await this.graphql<{
      createArtifactFiles: {
        files: {
          edges: {
            node: {
              uploadUrl: string | null;
              uploadHeaders: string[] | null;
              artifact: { id: string };
            };
          }[];
        };
      };
    }>('CreateArtifactFiles', CREATE_ARTIFACT_FILES, {
      input: {
        artifactFiles: files.map((file) => ({
          artifactID: artifactId,
          artifactManifestID: manifestId,
          md5: file.md5,
          mimetype: null,
          name: file.name,
          uploadPartsInput: null,
        })),
        clientMutationId: null,
        cloudRegionID: null,
        storageLayout: 'V2',
      },
    });
    return data.createArtifactFiles.files.edges.map(({ node }) => ({
      uploadUrl: node.uploadUrl,
      uploadHeaders: node.uploadHeaders,
      birthArtifactId: node.artifact.id,
    }));
  }

  async commitArtifact(artifactId: string): Promise<void> {
    await this.graphql('CommitArtifact', COMMIT_ARTIFACT, { artifactID: artifactId });
  }

  /** Records that a run used an artifact (W&B's lineage: the run's inputs). */
  async useArtifact(input: {
    artifactId: string;
    entity: string;
    project: string;
    run: string;
    usedAs: string | null;
  }): Promise<void> {
    await this.graphql('UseArtifact', USE_ARTIFACT, {
      input: {
        artifactID: input.artifactId,
        clientMutationId: null,
        entityName: input.entity,
        projectName: input.project,
        runName: input.run,
        usedAs: input.usedAs,
      },
    });
  }

  /** The service's feature flags; asked first, as W&B's client does. */
  async serverFeatures(): Promise<{ name: string; isEnabled: boolean }[]> {
    const data = await this.graphql<{
      serverInfo: { features: { name: string; isEnabled: boolean }[] | null } | null;
    }>('ServerFeaturesQuery', SERVER_FEATURES, {});
    return data.serverInfo?.features ?? [];
  }

  async viewer(): Promise<{ id: string; entity: string | null }> {
    const data = await this.graphql<{ viewer: { id: string; entity: string | null } | null }>(
      'Viewer',
      VIEWER,
      {},
    );
    if (data.viewer === null) {
      throw new WandbError('Viewer: W&B knows no user for this API key', {
        retryable: false,
        statusCode: 401,
      });
    }
    return data.viewer;
  }

  async fileStream(
    entity: string,
    project: string,
    run: string,
    body: FileStreamRequest,
  ): Promise<void> {
    const path = `/files/${[entity, project, run].map(encodeURIComponent).join('/')}/file_stream`;
    await this.send('POST', `${this.baseUrl}${path}`, 'file_stream', JSON.stringify(body), {
      'content-type': 'application/json',
      authorization: this.authorization,
    });
  }

  /** PUTs bytes to a presigned URL: with the headers W&B handed out, never with W&B's key. */
  async upload(url: string, headers: string[] | null, body: Readable, size: number): Promise<void> {
    const extra: Record<string, string> = {};
    for (const header of headers ?? []) {
      const colon = header.indexOf(':');
      if (colon > 0)
        extra[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    }
    await this.send('PUT', url, 'upload', body, { ...extra, 'content-length': String(size) });
  }

  /**
   * Until when requests wait because W&B said the quota is used up
   * (`RateLimit-Remaining: 0`), epoch ms; 0 when they do not.
   */
  get rateLimitedUntil(): number {
    return this.pausedUntil > Date.now() ? this.pausedUntil : 0;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async graphql<T>(
    operationName: string,
    query: string,
    variables: Record<string, unknown>,
  ): Promise<T> {
    const text = await this.send(
      'POST',
      `${this.baseUrl}/graphql`,
      operationName,
      JSON.stringify({ query, variables, operationName }),
      {
        'content-type': 'application/json',
        authorization: this.authorization,
      },
    );
    let parsed: { data?: T; errors?: { message?: string }[] };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch (error) {
      throw WandbError.fromNetwork(`${operationName} (a truncated answer)`, error);
    }
    if (parsed.errors !== undefined && parsed.errors.length > 0) {
      const messages = parsed.errors.map((e) => e.message ?? 'error');
      throw new WandbError(`${operationName}: ${messages.join('; ')}`, { retryable: false });
    }
    if (parsed.data === undefined)
      throw new WandbError(`${operationName}: no data in the answer`, { retryable: true });
    return parsed.data;
  }

  private async send(
    method: Dispatcher.HttpMethod,
    url: string,
    what: string,
    body: string | Readable,
    headers: Record<string, string>,
  ): Promise<string> {
    // Every request waits out a used-up quota, as wandb-core's client does.
    const wait = this.pausedUntil - Date.now();
    if (wait > 0) await delay(wait, undefined, { ref: false });
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, {
        method,
        body,
        dispatcher: this.agent,
        headers: { 'user-agent': USER_AGENT, ...headers },
      });
    } catch (error) {
      throw WandbError.fromNetwork(what, error);
    }
    const pause = rateLimitPauseMs(response.headers);
    if (pause !== undefined) this.pausedUntil = Math.max(this.pausedUntil, Date.now() + pause);
    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      throw WandbError.fromNetwork(`${what} (reading the answer)`, error);
    }
    if (response.statusCode < 200 || response.statusCode >= 300) {
      // UpsertBucket is retried on 409 by W&B's own client (a concurrent upsert).
      const retryable = what === 'UpsertBucket' && response.statusCode === 409 ? true : undefined;
      throw WandbError.fromResponse(
        what,
        { status: response.statusCode, body: text, headers: response.headers },
        retryable === undefined ? {} : { retryable },
      );
    }
    return text;
  }
}
