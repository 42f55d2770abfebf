-- Registered base models carry what the built-in video models say of themselves: what the model
-- does and how it reads frames (the qlora facade lists models by model_type). Null for every
-- other model. Checked here as the API checks them, so a row never holds a value /v1 can't show.
alter table base_models
  add column model_type text check (model_type in ('video_classification', 'video_captioning')),
  add column base_architecture text check (base_architecture in ('flamingo', 'video_llama', 'videomae'));
