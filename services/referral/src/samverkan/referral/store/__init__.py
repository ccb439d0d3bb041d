"""SQL for the referral service's tables (asyncpg), one module per table, nothing else."""
