"""Dataset distillers: learnable point sets (:mod:`.synthetic`), the shared outer loop with its
context and checkpoints (:mod:`.loop`), and the objectives: gradient, trajectory and kernel
matching, outcome matching and its task-aware variant."""
