import benchmark.slurm_site as slurm_site


# Runs once before the first job is scheduled (never in a dry run, never inside a cluster job):
# with --profile profiles/slurm, stop with one clear message if a site value is unset; then record
# which config made results/<experiment> (benchmark.workflow.check_experiment).
onstart:
    try:
        slurm_site.check_site(
            workflow.executor_plugin.name if workflow.executor_plugin else None
        )
    except slurm_site.SlurmSiteError as e:
        raise WorkflowError(str(e))
    if EXPERIMENT_RECORD:
        bw.write_experiment_record(EXPERIMENT_RECORD)
