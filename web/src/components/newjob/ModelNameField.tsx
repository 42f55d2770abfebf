/** The output section: the name the trained model is registered under. */
export function ModelNameField({ value, onChange, error }: { value: string; onChange: (name: string) => void; error: string | undefined }) {
  return (
    <section className="card" aria-labelledby="out-title">
      <h2 id="out-title">Output</h2>
      <label htmlFor="job-model-name">Model name</label>
      <input
        id="job-model-name"
        value={value}
        maxLength={100}
        required
        aria-describedby={`job-model-name-help${error ? ' job-model-name-error' : ''}`}
        aria-invalid={error ? true : undefined}
        onChange={(e) => onChange(e.target.value)}
      />
      <p className="help" id="job-model-name-help">
        The trained model is registered under this name; a name you already use gets a new version.
      </p>
      {error && (
        <p className="field-error" id="job-model-name-error">
          {error}
        </p>
      )}
    </section>
  );
}
