# LT-Skeleton Bench: root entry point.
# An `include` alone would lose rule all's default_target (snakemake#2773), so this file
# declares its own default rule (docs/workflow.md).
include: "workflow/Snakefile"


rule default:
    default_target: True
    input:
        rules.all.input,
