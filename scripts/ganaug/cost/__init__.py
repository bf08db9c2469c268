"""What a stage costs on a GPU, before it is spent.

``tally`` counts, on torch's ``meta`` device (shapes only), every op one step dispatches, with its
FLOPs (torch's formulas, the grouped convolution's backward corrected) and the bytes it moves;
``hardware`` holds the GPUs, the published throughputs the model is anchored to and every other
assumption, each a named constant with its source; ``steps`` tallies one step of each GPU stage;
``model`` turns a tally into seconds (a roofline per kernel, calibrated to the anchors, against
the host's dispatch); ``study`` multiplies a config's steps into the study's hours, per stage.
"""
