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
        # a seed trained by a packed job (config pack_seeds) takes that job's result for itself
        from_pack=from_pack_args,
        # Resumable state lives outside the declared outputs, which Snakemake deletes on
        # failure and before a rerun (docs/workflow.md).
        ckpt=f"{CKPT_DIR}/{{split}}/{{backbone}}/{{method}}/{{stream}}/seed{{seed}}",
        out=f"{RUNS_DIR}/{{split}}/{{backbone}}/{{method}}/{{stream}}/seed{{seed}}",
        share=gpu_share_args(),
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
        "python -m benchmark.gpu_slot --n {resources.gpu} {params.share:q} --log {log:q} --"
        " python -m benchmark train --spec {params.spec:q} --data {params.data:q} --split {input.split:q}"
        " {params.stage1:q} {params.from_pack:q} --out {params.out:q} --ckpt {params.ckpt:q} --threads {threads} >> {log:q} 2>&1"


rule train_pack:
    # Seeds of one run trained together as one packed model (config pack_seeds; docs/speed.md).
    # Each seed's `train` job then takes its result from here; the folder is temporary.
    input:
        unpack(train_data_input),
    output:
        temp(directory(f"{PACK_DIR}/{{split}}/{{backbone}}/{{method}}/{{stream}}/seeds{{seeds}}")),
    params:
        specs=pack_specs,
        runs=pack_run_args,
        data=train_data_dir,
        share=gpu_share_args(),
    resources:
        gpu=1,
        runtime=lambda wildcards, attempt: 600 * attempt * len(pack_seeds(wildcards)),
    retries: 1
    threads: 2
    log:
        f"logs/{EXP}/train_pack/{{split}}/{{backbone}}/{{method}}/{{stream}}/seeds{{seeds}}.log",
    benchmark:
        f"benchmarks/{EXP}/train_pack/{{split}}/{{backbone}}/{{method}}/{{stream}}/seeds{{seeds}}.tsv"
    conda:
        "../envs/bench.yaml"
    shell:
        "python -m benchmark.gpu_slot --n {resources.gpu} {params.share:q} --log {log:q} --"
        " python -m benchmark train-pack --data {params.data:q} --split {input.split:q} {params.runs:q}"
        " --threads {threads} >> {log:q} 2>&1"
