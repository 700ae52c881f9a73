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
        " {params.stage1:q} --out {params.out:q} --ckpt {params.ckpt:q} --threads {threads} >> {log:q} 2>&1"


rule train_pack:
    # Seeds of one run trained together as one packed model (config pack_seeds; docs/speed.md).
    # Each seed's take_packed step then copies its result from here; the folder is temporary.
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


rule train_many:
    # train_jobs: N in the config: the runs of a split x backbone trained by N jobs, each one process
    # that claims and trains runs from their shared work list in turn (benchmark.train_jobs). Each
    # run's take_job_run step then copies its result from here to its usual folder; the folder is
    # temporary.
    input:
        unpack(train_data_input),
    output:
        temp(directory(f"{JOBS_DIR}/{{split}}/{{backbone}}/{{job}}")),
    params:
        specs=job_specs,
        runs=job_run_args,
        data=train_data_dir,
        share=gpu_share_args(),
    resources:
        gpu=1,
        runtime=lambda wildcards, attempt: 600 * attempt * len(job_specs(wildcards)),  # at most all of the list
    retries: 1
    threads: 2
    log:
        f"logs/{EXP}/train_many/{{split}}/{{backbone}}/{{job}}.log",
    benchmark:
        f"benchmarks/{EXP}/train_many/{{split}}/{{backbone}}/{{job}}.tsv"
    conda:
        "../envs/bench.yaml"
    shell:
        # the folder exists even when the other jobs left this one nothing to train (e.g. jobs that
        # ran one after the other)
        "mkdir -p {output:q} && python -m benchmark.gpu_slot --n {resources.gpu} {params.share:q} --log {log:q} --"
        " python -m benchmark train-many --data {params.data:q} --split {input.split:q} {params.runs:q}"
        " --no-progress --threads {threads} >> {log:q} 2>&1"


rule take_packed:
    # A seed trained by a packed job: its result files are copied from the pack, after checking
    # that they have exactly this run's identity. Result paths are those of a separate run.
    input:
        unpack(take_packed_input),
    output:
        metrics=f"{RUNS_DIR}/{{packed_run}}/metrics.json",
        probs=f"{RUNS_DIR}/{{packed_run}}/test_probs.npz",
        epochs=f"{RUNS_DIR}/{{packed_run}}/epochs.csv",
        model=f"{RUNS_DIR}/{{packed_run}}/model.pt",
    wildcard_constraints:
        packed_run=_alt(PACKED_RUNS) if PACKED_RUNS else "NO_PACKED_RUN",
    params:
        spec=lambda w: packed_run_spec(w.packed_run),
        data=lambda w: f"results/data/{SPLITS[w.packed_run.split('/')[0]].dataset}",
        source=lambda w, input: f"{input.pack}/{w.packed_run.rsplit('/', 1)[1]}",
        out=lambda w, output: os.path.dirname(output.metrics),
    log:
        f"logs/{EXP}/train/{{packed_run}}.log",
    localrule: True
    conda:
        "../envs/bench.yaml"
    shell:
        "python -m benchmark take-pack --spec {params.spec:q} --data {params.data:q} --split {input.split:q}"
        " --from {params.source:q} --out {params.out:q} >> {log:q} 2>&1"


rule take_job_run:
    # A run trained by a multi-run job: its files are copied from the job's folder, after checking
    # that they were trained from exactly this run's spec. A shell step (a light Python start, no
    # torch): a `run:` block here cost Snakemake about 2.5 s per run.
    input:
        jobs=lambda w: job_dirs(w.job_run),
    output:
        metrics=f"{RUNS_DIR}/{{job_run}}/metrics.json",
        probs=f"{RUNS_DIR}/{{job_run}}/test_probs.npz",
        epochs=f"{RUNS_DIR}/{{job_run}}/epochs.csv",
        model=f"{RUNS_DIR}/{{job_run}}/model.pt",
    wildcard_constraints:
        job_run=_alt(JOB_RUNS) if JOB_RUNS else "NO_JOB_RUN",
    params:
        spec=lambda w: packed_run_spec(w.job_run),
        sources=lambda w, input: [f"{d}/{w.job_run.split('/', 2)[2]}" for d in input.jobs],
        out=lambda w, output: os.path.dirname(output.metrics),
    log:
        f"logs/{EXP}/train/{{job_run}}.log",
    localrule: True
    conda:
        "../envs/bench.yaml"
    shell:
        "python -m benchmark take-job-run --spec {params.spec:q} --from {params.sources:q}"
        " --out {params.out:q} > {log:q} 2>&1"


# a packed seed's files come from its pack, a multi-run job's from that job, never from a training of its own
ruleorder: take_job_run > take_packed > train
