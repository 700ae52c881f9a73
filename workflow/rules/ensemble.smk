rule ensemble:
    input:
        probs=ensemble_inputs,
        counts="results/splits/{split}_counts.csv",
    output:
        f"{RUNS_DIR}/{{split}}/{{backbone}}/{{method}}/ens-{{ens}}/seed{{seed}}/metrics.json",
    params:
        p=ensemble_params,
    log:
        f"logs/{EXP}/ensemble/{{split}}/{{backbone}}/{{method}}/ens-{{ens}}/seed{{seed}}.log",
    localrule: True
    conda:
        "../envs/bench.yaml"
    shell:
        "python -m benchmark.ensemble --runs {input.probs:q} --streams {params.p[streams]:q}"
        " --weights {params.p[weights]:q} --counts {input.counts:q} --out {output:q} > {log:q} 2>&1"
