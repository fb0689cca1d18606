"""Read side: reports over rollup tables, the rollup job that keeps them current, and the
short raw-data queries behind the live feed and drill-downs."""
