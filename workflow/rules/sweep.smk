# Validation sweep of a stage-1 hyper-parameter (WB's weight decay; benchmark/engine/sweep.py).
# On a split with a held-out validation split, `wb` is not trained itself: one candidate per grid
# value trains under its own id (wb_wd0.0005, …) and this step copies the candidate whose final
# model validated best into wb/<stream>/seed<k>/, recording the choice in meta.stage1_selection.
# Elsewhere `wb` trains as any method (rule train) with its fixed default.


rule select_sweep:
    input:
        unpack(sweep_input),
    output:
        metrics=f"{RUNS_DIR}/{{split}}/{{backbone}}/{{method}}/{{stream}}/seed{{seed}}/metrics.json",
        probs=f"{RUNS_DIR}/{{split}}/{{backbone}}/{{method}}/{{stream}}/seed{{seed}}/test_probs.npz",
        epochs=f"{RUNS_DIR}/{{split}}/{{backbone}}/{{method}}/{{stream}}/seed{{seed}}/epochs.csv",
        model=f"{RUNS_DIR}/{{split}}/{{backbone}}/{{method}}/{{stream}}/seed{{seed}}/model.pt",
    wildcard_constraints:
        split=_alt(SWEEP_SPLITS) if SWEEP_SPLITS else "NO_SWEEP",
        method=_alt(SWEEP_METHODS) if SWEEP_METHODS else "NO_SWEEP",
    params:
        candidates=lambda w, input: [os.path.dirname(p) for p in input.metrics],
        name=lambda w: METHODS[w.method].name,
        out=lambda w, output: os.path.dirname(output.metrics),
    log:
        f"logs/{EXP}/select/{{split}}/{{backbone}}/{{method}}/{{stream}}/seed{{seed}}.log",
    localrule: True
    conda:
        "../envs/bench.yaml"
    shell:
        "python -m benchmark.engine.sweep --candidates {params.candidates:q} --out {params.out:q}"
        " --method-id {wildcards.method:q} --method-name {params.name:q} > {log:q} 2>&1"


# the swept row's files come from the selection step, never from a training of its own
ruleorder: select_sweep > train
