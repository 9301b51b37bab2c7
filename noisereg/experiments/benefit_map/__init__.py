"""The benefit map: noise minus no noise on fresh draws, per dataset, size, placement, stddev."""
