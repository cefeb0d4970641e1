"""Early warning: cheap predictors, computed in seconds on a CPU, of whether a pruned model lost its test-time
scaling (``prunescale fragility``), and how well each ranks a study's variants against the measured loss.

``traces`` the parent's own greedy budget-forced traces; ``predictors`` what both models are scored on;
``knowledge`` the knowledge questions; ``run`` one model against its parent; ``study`` every variant of a study
(cached in ``STUDY_DIR/fragility/``); ``tts`` the measured loss of test-time scaling (Spearman's rho
with a bootstrap interval: ``prunescale.stats``).
"""
