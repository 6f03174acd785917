"""Labelled point sets: sets labelled by a teacher (:mod:`.teacher_sets`), label distillers
(:mod:`.label_distill`, :mod:`.label_outcome`) and label exchange across a shift family
(:mod:`.label_exchange`, :mod:`.task_exchange`)."""
