"""Quality and cost metrics: FID/KID (clean-fid), FLOPs, throughput, memory."""
