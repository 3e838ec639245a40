// Owns the precompiled <torch/torch.h> that every torch target reuses.
