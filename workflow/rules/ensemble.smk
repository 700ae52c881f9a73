rule ensemble:
    input:
        probs=ensemble_inputs,
        counts="results/splits/{split}_counts.csv",
    output:
        "results/runs/{split}/{backbone}/{method}/ens-{ens}/seed{seed}/metrics.json",
    params:
        args=ensemble_args,
    log:
        "logs/ensemble/{split}/{backbone}/{method}/ens-{ens}/seed{seed}.log",
    localrule: True
    conda:
        "../envs/bench.yaml"
    shell:
        "python -m benchmark.ensemble --runs {input.probs} {params.args}"
        " --counts {input.counts} --out {output} > {log} 2>&1"
