import { execFile } from 'node:child_process';

/**
 * Seed 002's examples, copied from the document (the tests never read ../shared): every curl
 * line, and its Python and JavaScript clients. Tests run them as written with only the host
 * changed, and a real job id where the document writes job_123.
 */
export const DOC_HOST = 'http://localhost:8002';

export const CURL = {
  health: 'curl http://localhost:8002/',
  available: 'curl http://localhost:8002/models/available',
  registry: 'curl http://localhost:8002/models/registry',
  latest: 'curl http://localhost:8002/models/latest',
  best: 'curl http://localhost:8002/models/best',
  versions: 'curl http://localhost:8002/models/versions/deberta-v3-base',
  models: 'curl http://localhost:8002/models',
  model: 'curl http://localhost:8002/models/deberta-v3-base',
  modelStatus: 'curl http://localhost:8002/models/deberta-v3-base/status',
  loadingStatus: 'curl http://localhost:8002/model-loading/status',
  jobs: 'curl http://localhost:8002/jobs',
  job: 'curl http://localhost:8002/jobs/job_123',
  loadingStart: 'curl -X POST http://localhost:8002/model-loading/start',
  loadSpecific: `curl -X POST http://localhost:8002/model-loading/load-specific \\
  -H "Content-Type: application/json" \\
  -d '{"models": ["deberta-v3-base", "roberta-base"]}'`,
  loadSingle: `curl -X POST http://localhost:8002/model-loading/load-single \\
  -H "Content-Type: application/json" \\
  -d '{"model_name": "deberta-v3-base"}'`,
  train: `curl -X POST http://localhost:8002/train \\
  -H "Content-Type: application/json" \\
  -d '{
    "model_name": "deberta-v3-base",
    "training_data_path": "/app/training_data/sample_training_data.jsonl"
  }'`,
  retrain: `curl -X POST http://localhost:8002/retrain \\
  -H "Content-Type: application/json" \\
  -d '{
    "model_name": "deberta-v3-base",
    "training_data_path": "/app/training_data/new_data.jsonl"
  }'`,
  sampleData: 'curl -X POST http://localhost:8002/create-sample-data',
  logs: 'curl http://localhost:8002/logs',
  // "cURL Examples": the train line without a training_data_path.
  trainShort: `curl -X POST http://localhost:8002/train \\
  -H "Content-Type: application/json" \\
  -d '{"model_name": "deberta-v3-base"}'`,
} as const;

/** The document's request-body example for /retrain (its curl line sends no config). */
export const RETRAIN_BODY = {
  model_name: 'deberta-v3-base',
  training_data_path: '/app/training_data/new_data.jsonl',
  config: { num_epochs: 2, learning_rate: 1e-5 },
};

export const PYTHON_CLIENT = `import requests
import json

# Train a model
response = requests.post(
    "http://localhost:8002/train",
    json={
        "model_name": "deberta-v3-base",
        "training_data_path": "/app/training_data/sample_training_data.jsonl"
    }
)
result = response.json()
print(f"Job ID: {result['job_id']}")

# Check job status
job_response = requests.get(f"http://localhost:8002/jobs/{result['job_id']}")
job_status = job_response.json()
print(f"Status: {job_status['status']}")
print(f"Progress: {job_status['progress']}%")
`;

export const JS_CLIENT = `// Train a model
const response = await fetch('http://localhost:8002/train', {
  method: 'POST',
  headers: {
    'Content-Type': 'application/json',
  },
  body: JSON.stringify({
    model_name: 'deberta-v3-base',
    training_data_path: '/app/training_data/sample_training_data.jsonl'
  })
});

const result = await response.json();
console.log(\`Job ID: \${result.job_id}\`);

// Check job status
const jobResponse = await fetch(\`http://localhost:8002/jobs/\${result.job_id}\`);
const jobStatus = await jobResponse.json();
console.log(\`Status: \${jobStatus.status}\`);
console.log(\`Progress: \${jobStatus.progress}%\`);
`;

/** The document's labels: what GET /models/available reports for its base models. */
export const DOC_LABELS = ['prompt_injection', 'jailbreak', 'system_extraction', 'code_injection', 'benign'];

/** Runs a document curl line against `base` (the facade's own port); the body comes back parsed, with the status. */
export function curl(line: string, base: string, jobId?: string): Promise<{ status: number; body: any }> {
  let cmd = line.replaceAll(DOC_HOST, base);
  if (jobId) cmd = cmd.replaceAll('job_123', jobId);
  // -w appends the status on a line of its own; -sS keeps the progress meter out of stderr.
  cmd = cmd.replace(/^curl /, `curl -sS -w '\\n%{http_code}' `);
  return new Promise((resolve, reject) => {
    execFile('bash', ['-c', cmd], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${cmd}: ${stderr || err.message}`));
      const i = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(i + 1)), body: JSON.parse(stdout.slice(0, i)) });
    });
  });
}

/** Runs a snippet in a child process (Node's fetch for JavaScript); returns stdout. */
export function run(bin: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 120_000, env }, (err, stdout, stderr) => (err ? reject(new Error(`${bin}: ${stderr || err.message}`)) : resolve(stdout)));
  });
}
