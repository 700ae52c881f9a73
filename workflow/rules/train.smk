rule train:
    input:
        unpack(train_data_input),
    output:
        metrics="results/runs/{split}/{backbone}/{method}/{stream}/seed{seed}/metrics.json",
        probs="results/runs/{split}/{backbone}/{method}/{stream}/seed{seed}/test_probs.npz",
        epochs="results/runs/{split}/{backbone}/{method}/{stream}/seed{seed}/epochs.csv",
        model="results/runs/{split}/{backbone}/{method}/{stream}/seed{seed}/model.pt",
    params:
        # The run's identity: result-relevant config + method/backbone/data/engine versions.
        spec=run_spec,
        args=train_args,
        # Resumable state lives outside the declared outputs, which Snakemake deletes on
        # failure and before a rerun (docs/workflow.md).
        ckpt="results/ckpt/{split}/{backbone}/{method}/{stream}/seed{seed}",
        out="results/runs/{split}/{backbone}/{method}/{stream}/seed{seed}",
    resources:
        gpu=1,
        runtime=lambda wildcards, attempt: 600 * attempt,
    retries: 1
    threads: 2
    log:
        "logs/train/{split}/{backbone}/{method}/{stream}/seed{seed}.log",
    benchmark:
        "benchmarks/train/{split}/{backbone}/{method}/{stream}/seed{seed}.tsv"
    conda:
        "../envs/bench.yaml"
    shell:
        "python -m benchmark.gpu_slot --n {resources.gpu} --log {log} --"
        " python -m benchmark train --spec {params.spec:q} {params.args}"
        " --out {params.out} --ckpt {params.ckpt} --threads {threads} >> {log} 2>&1"
