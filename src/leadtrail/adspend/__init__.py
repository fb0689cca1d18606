"""Ad spend (daily per campaign, or per click by gclid), click-level cost and ROI, campaign
performance and the Google Ads offline-conversion export."""
