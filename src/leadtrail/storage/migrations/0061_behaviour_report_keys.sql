-- Behaviour reports that read few rows whatever the traffic (docs/behaviour.md "Speed").

-- The click map's density grid: one row per day, page, device class and click type, its
-- non-empty cells (gy * 20 + gx) and their counts side by side. A 30-day map of a busy page
-- reads 30 x devices x types rows instead of up to 1,000 cells for each.
CREATE TABLE behaviour_grid_cells_daily (
    site_id      uuid NOT NULL,
    page_path    text NOT NULL,
    day          date NOT NULL,
    device_class text NOT NULL,
    event_type   text NOT NULL,
    cells        smallint[] NOT NULL,
    counts       integer[] NOT NULL,
    PRIMARY KEY (site_id, page_path, day, device_class, event_type)
);
ALTER TABLE behaviour_grid_cells_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE behaviour_grid_cells_daily FORCE ROW LEVEL SECURITY;
SELECT leadtrail.apply_tenant_policy('behaviour_grid_cells_daily');

INSERT INTO behaviour_grid_cells_daily
SELECT site_id, page_path, day, device_class, event_type,
       array_agg((gy * 20 + gx)::smallint ORDER BY gy, gx), array_agg(events ORDER BY gy, gx)
FROM behaviour_grid_daily
GROUP BY site_id, page_path, day, device_class, event_type;

-- Friction points: the pages of one element and type over a range of days, found without
-- walking every element of those days.
CREATE INDEX behaviour_element_daily_element_idx
    ON behaviour_element_daily (site_id, event_type, element_path, element_type, day);

GRANT SELECT ON behaviour_grid_cells_daily TO leadtrail_analyst, leadtrail_admin;
GRANT SELECT, INSERT, DELETE ON behaviour_grid_cells_daily TO leadtrail_writer;
