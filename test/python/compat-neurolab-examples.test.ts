import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { HAVE_PYTHON, pythonSnippet } from '../helpers/python.js';

// Seed 001's Python examples, run as the document writes them (Python's `requests`, from the
// trainers' environment) against the neurolab facade on its own port, with only the host
// changed. What the document leaves undefined is supplied in a preamble, and said so:
// - the password: its "admin_password" contains the username, which the password policy
//   refuses, so the operator set the admin account (TRAINYARD_ADMIN_USERNAME=admin,
//   TRAINYARD_ADMIN_PASSWORD) and the examples log in with that password;
// - `json` is used by the file, status and workflow examples but imported only by the workflow;
// - `token` and `job_id` in the examples after the first come from the ones before (they are
//   concatenated in the document's order);
// - `training_data.csv`: the document's two-row CSV for the file example; the workflow prints
//   `final_val_accuracy` with `:.2%`, which needs held-out rows, so it gets a longer CSV in the
//   same format (40 rows, two states);
// - `config` in the workflow's step 4 is never defined there: it is the document's default,
//   {"model_type": "enhanced_cnn_lstm"} (the workflow's own config sets no model_type).
// The documented rate limits stay at their defaults: the examples fit inside them.

const HOST = 'http://localhost:8000';
const PASSWORD = 'correct horse battery staple';

// ---- the document's examples, verbatim ----

const TRAIN_WITH_DATA = `import requests

# Login
login_response = requests.post(
    "http://localhost:8000/api/auth/login",
    json={"username": "admin", "password": "admin_password"}
)
token = login_response.json()["access_token"]

# Prepare training data
training_data = {
    "X_train": [[0.5, 0.3, 0.2, 0.1, 0.4]] * 100,
    "y_train": [0, 1, 2] * 33 + [0],
    "X_test": [[0.4, 0.2, 0.1, 0.05, 0.3]] * 20,
    "y_test": [0, 1, 2] * 6 + [0, 1],
    "config": {
        "model_type": "enhanced_cnn_lstm",
        "epochs": 10,
        "batch_size": 16
    }
}

# Start training
response = requests.post(
    "http://localhost:8000/api/train",
    json=training_data,
    headers={"Authorization": f"Bearer {token}"}
)

job_id = response.json()["job_id"]
print(f"Training job started: {job_id}")
`;

const TRAIN_FROM_FILE = `import requests

# Prepare file and config
files = {'file': open('training_data.csv', 'rb')}
config = {
    "model_type": "enhanced_cnn_lstm",
    "epochs": 20
}

# Upload and train
response = requests.post(
    "http://localhost:8000/api/train/file",
    files=files,
    data={'config': json.dumps(config)},
    headers={"Authorization": f"Bearer {token}"}
)

job_id = response.json()["job_id"]
`;

const STATUS_POLL = `# Poll for status
import time

while True:
    response = requests.get(
        f"http://localhost:8000/api/train/status/{job_id}",
        headers={"Authorization": f"Bearer {token}"}
    )
    
    status_data = response.json()
    print(f"Status: {status_data['status']} - Progress: {status_data['progress']:.1%}")
    
    if status_data['status'] in ['completed', 'failed']:
        break
    
    time.sleep(5)

# Get final metrics
if status_data['status'] == 'completed':
    print("Training Metrics:")
    print(json.dumps(status_data['metrics'], indent=2))
`;

const LIST_JOBS = `response = requests.get(
    "http://localhost:8000/api/train/jobs?limit=5",
    headers={"Authorization": f"Bearer {token}"}
)

jobs = response.json()
for job in jobs:
    print(f"{job['job_id']}: {job['status']}")
`;

const DELETE_JOB = `response = requests.delete(
    f"http://localhost:8000/api/train/job/{job_id}",
    headers={"Authorization": f"Bearer {token}"}
)
`;

const WORKFLOW = `import requests
import json
import time

# 1. Login
login_response = requests.post(
    "http://localhost:8000/api/auth/login",
    json={"username": "admin", "password": "admin_password"}
)
token = login_response.json()["access_token"]
headers = {"Authorization": f"Bearer {token}"}

# 2. Upload training file
with open('training_data.csv', 'rb') as f:
    train_response = requests.post(
        "http://localhost:8000/api/train/file",
        files={'file': f},
        data={'config': json.dumps({"epochs": 20, "batch_size": 32})},
        headers=headers
    )

job_id = train_response.json()["job_id"]
print(f"Training started: {job_id}")

# 3. Monitor progress
while True:
    status_response = requests.get(
        f"http://localhost:8000/api/train/status/{job_id}",
        headers=headers
    )
    
    status = status_response.json()
    print(f"Progress: {status['progress']:.1%} - {status['message']}")
    
    if status['status'] in ['completed', 'failed']:
        break
    
    time.sleep(10)

# 4. Check results
if status['status'] == 'completed':
    print("\\nTraining completed successfully!")
    print(f"Final accuracy: {status['metrics']['final_val_accuracy']:.2%}")
    print(f"Model saved to: processed/trained_model_{config['model_type']}.h5")
else:
    print(f"\\nTraining failed: {status['error']}")

# 5. List all jobs
jobs_response = requests.get(
    "http://localhost:8000/api/train/jobs",
    headers=headers
)
print(f"\\nTotal jobs: {len(jobs_response.json())}")
`;

// ---- what the test supplies ----

const DOC_CSV = 'timestamp,alpha,beta,theta,delta,gamma,state\n2024-01-15T10:00:00,0.5,0.3,0.2,0.1,0.4,0\n2024-01-15T10:00:01,0.6,0.4,0.3,0.2,0.5,1\n';

/** The document's CSV format, longer: 40 rows at 1 s, state 0 with high alpha, state 1 with high beta. */
function longerCsv(): string {
  const lines = ['timestamp,alpha,beta,theta,delta,gamma,state'];
  for (let i = 0; i < 40; i++) {
    const state = Math.floor(i / 5) % 2;
    const jitter = ((i * 37) % 11) / 100;
    const t = new Date(Date.UTC(2024, 0, 15, 10, 0, i)).toISOString().slice(0, 19);
    const [a, b] = state === 0 ? [0.8 + jitter, 0.2] : [0.2, 0.8 + jitter];
    lines.push(`${t},${a.toFixed(2)},${b.toFixed(2)},0.2,0.1,${(0.3 + jitter).toFixed(2)},${state}`);
  }
  return lines.join('\n') + '\n';
}

const asRun = (code: string, base: string) => code.replaceAll(HOST, base).replaceAll('"admin_password"', JSON.stringify(PASSWORD));

/** The JSON a script prints after a marker line: what the test then checks. */
function report(stdout: string): Record<string, any> {
  const line = stdout.split('\n').find((l) => l.startsWith('CHECK '));
  if (!line) throw new Error(`no CHECK line in:\n${stdout}`);
  return JSON.parse(line.slice('CHECK '.length));
}

describe.skipIf(!HAVE_PYTHON)('seed 001: the document’s Python examples against the neurolab facade', () => {
  let t: TestApp;
  let base: string;
  let dir: string;
  beforeAll(async () => {
    t = await startTestApp({
      env: {
        TRAINYARD_COMPAT: 'neurolab:0',
        TRAINYARD_ADMIN_USERNAME: 'admin',
        TRAINYARD_ADMIN_PASSWORD: PASSWORD,
        WORKER_POLL_MS: '50',
        WORKER_DRAIN_MS: '0',
        SIGNUP_CREDIT_GRANT: '1000',
      },
    });
    base = t.compatUrls.neurolab!;
    dir = await mkdtemp(path.join(tmpdir(), 'neurolab-py-'));
  });
  afterAll(async () => {
    await t?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('train with data, train from file, poll the status, list, delete — concatenated in the document’s order', async () => {
    await writeFile(path.join(dir, 'training_data.csv'), DOC_CSV);
    const preamble = `import os, json\nos.chdir(${JSON.stringify(dir)})\n`;
    const check = `\nprint("CHECK " + json.dumps({"first_job_id": first_job_id, "status": status_data, "jobs": jobs, "delete_status": response.status_code, "delete": response.json()}))\n`;
    const code = [
      preamble,
      asRun(TRAIN_WITH_DATA, base),
      'first_job_id = job_id\n',
      asRun(TRAIN_FROM_FILE, base),
      asRun(STATUS_POLL, base),
      asRun(LIST_JOBS, base),
      asRun(DELETE_JOB, base),
      check,
    ].join('\n');
    const out = await pythonSnippet(code, [], 240_000);

    const r = report(out);
    expect(out).toMatch(/^Training job started: train_\d{8}_\d{6}_admin$/m);
    expect(r.first_job_id).toMatch(/^train_\d{8}_\d{6}_admin$/);
    // The poll loop ended on the file job, completed, with the documented metrics printed.
    expect(r.status.job_id).toMatch(/^train_file_\d{8}_\d{6}_admin$/);
    expect(r.status).toMatchObject({ status: 'completed', progress: 1, error: null });
    expect(out).toMatch(/^Status: completed - Progress: 100\.0%$/m);
    expect(out).toContain('Training Metrics:');
    expect(out).toContain('"final_train_accuracy":');
    expect(Object.keys(r.status.metrics).sort()).toEqual(['final_train_accuracy', 'final_train_loss', 'final_val_accuracy', 'final_val_loss']);
    // The listing (limit=5) has both jobs, newest first, as "<job_id>: <status>" lines.
    expect(r.jobs.map((j: { job_id: string }) => j.job_id)).toEqual([r.status.job_id, r.first_job_id]);
    expect(out).toContain(`${r.status.job_id}: completed`);
    // Delete answered as documented, and the record is gone.
    expect(r.delete_status).toBe(200);
    expect(r.delete).toEqual({ status: 'success', message: `Training job ${r.status.job_id} deleted` });
    const api = client(base);
    const token = (await api.post('/api/auth/login', { username: 'admin', password: PASSWORD })).body.access_token;
    expect((await api.get(`/api/train/status/${r.status.job_id}`, token)).status).toBe(404);
    // The first job (the document's 100 identical rows) trained too.
    const first = (await api.get(`/api/train/status/${r.first_job_id}`, token)).body;
    expect(['training', 'completed']).toContain(first.status);
  }, 300_000);

  it('the Complete Workflow Example, with the operator’s credentials and a CSV in the documented format', async () => {
    await writeFile(path.join(dir, 'training_data.csv'), longerCsv());
    // `config` is undefined in the document's workflow (used in step 4): the documented default.
    const preamble = `import os\nos.chdir(${JSON.stringify(dir)})\nconfig = {"model_type": "enhanced_cnn_lstm"}\n`;
    const check = `\nprint("CHECK " + json.dumps({"status": status, "jobs": jobs_response.json()}))\n`;
    const out = await pythonSnippet(preamble + asRun(WORKFLOW, base) + check, [], 240_000);

    const r = report(out);
    expect(out).toMatch(/^Training started: train_file_\d{8}_\d{6}_admin$/m);
    expect(out).toMatch(/^Progress: 100\.0% - Training completed successfully$/m);
    expect(out).toContain('Training completed successfully!');
    const acc = /^Final accuracy: (\d+\.\d\d)%$/m.exec(out);
    expect(acc, out).not.toBeNull();
    expect(Number(acc![1]) / 100).toBeCloseTo(r.status.metrics.final_val_accuracy, 4);
    expect(out).toContain('Model saved to: processed/trained_model_enhanced_cnn_lstm.h5');
    // Where the model really is: the admin's trained_model_enhanced_cnn_lstm in /v1.
    expect(r.status.model).toMatchObject({
      name: 'trained_model_enhanced_cnn_lstm',
      path: expect.stringMatching(/^\/v1\/models\/trained_model_enhanced_cnn_lstm\/versions\/\d+$/),
    });
    expect(out).toMatch(new RegExp(`^Total jobs: ${r.jobs.length}$`, 'm'));
    expect(r.jobs.length).toBeGreaterThanOrEqual(2);
    expect(r.jobs[0].job_id).toBe(r.status.job_id);
  }, 300_000);
});
