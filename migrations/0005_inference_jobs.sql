-- Inference jobs (generations) have no output model: `output` was filled with a placeholder.
-- It is null for them from now on; a training job still must name its output model.
alter table jobs alter column output drop not null;
alter table jobs add constraint jobs_training_output check (kind <> 'training' or output is not null);
