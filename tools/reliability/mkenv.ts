import { ensurePythonEnv, MLFLOW_REQUIREMENTS } from '@trackstack/test-harness';
const env = await ensurePythonEnv({ name: 'mlflow-pg', requirements: [...MLFLOW_REQUIREMENTS, 'psycopg2-binary==2.9.10'] });
console.log(env.dir);
