"""Methods that look at a warm-up network before choosing points: the shared warm-up
(:mod:`.warmup`), residual-adaptive sampling (:mod:`.rad`), coresets (:mod:`.coreset`), nested
orderings (:mod:`.nested`) and influence-based selection (:mod:`.influence_select`)."""
