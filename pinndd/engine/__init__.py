"""The training engine: network (:mod:`.nn`), derivatives by autograd or forward propagation
(:mod:`.derivatives`, :mod:`.forward`), the losses (:mod:`.losses`), compiled steps
(:mod:`.compiled`), the trainer (:mod:`.training`; its settings and results in :mod:`.config`),
ensembles (:mod:`.ensemble`), expert trajectories (:mod:`.experts`) and the in-distribution
error of a trained model (:mod:`.evaluation`).

Nothing here imports a point-selection method or an evaluator: the engine sits below both
(problem -> method -> point set -> trainer -> evaluator).
"""
