rule train:
    input:
        unpack(train_data_input),
    output:
        metrics=f"{RUNS_DIR}/{{split}}/{{backbone}}/{{method}}/{{stream}}/seed{{seed}}/metrics.json",
        probs=f"{RUNS_DIR}/{{split}}/{{backbone}}/{{method}}/{{stream}}/seed{{seed}}/test_probs.npz",
        epochs=f"{RUNS_DIR}/{{split}}/{{backbone}}/{{method}}/{{stream}}/seed{{seed}}/epochs.csv",
        model=f"{RUNS_DIR}/{{split}}/{{backbone}}/{{method}}/{{stream}}/seed{{seed}}/model.pt",
    params:
        # Result-relevant config + method/backbone/data/engine versions: a change reruns the job.
        # The trainer adds the prepared data's and the split list's checksums to form the run's
        # identity, and resumes a checkpoint only of the same identity.
        spec=run_spec,
        data=train_data_dir,
        stage1=stage1_args,
        # Resumable state lives outside the declared outputs, which Snakemake deletes on
        # failure and before a rerun.
        ckpt=f"{CKPT_DIR}/{{split}}/{{backbone}}/{{method}}/{{stream}}/seed{{seed}}",
        out=f"{RUNS_DIR}/{{split}}/{{backbone}}/{{method}}/{{stream}}/seed{{seed}}",
    resources:
        gpu=1,
        runtime=lambda wildcards, attempt: 600 * attempt,
    retries: 1
    threads: 2
    log:
        f"logs/{EXP}/train/{{split}}/{{backbone}}/{{method}}/{{stream}}/seed{{seed}}.log",
    benchmark:
        f"benchmarks/{EXP}/train/{{split}}/{{backbone}}/{{method}}/{{stream}}/seed{{seed}}.tsv"
    conda:
        "../envs/bench.yaml"
    shell:
        "python -m benchmark.gpu_slot --n {resources.gpu} --log {log:q} --"
        " python -m benchmark train --spec {params.spec:q} --data {params.data:q} --split {input.split:q}"
        " {params.stage1:q} --out {params.out:q} --ckpt {params.ckpt:q} --threads {threads} >> {log:q} 2>&1"
