"""The reference study on its fixed 30/70 split: noise variants, grid search, noise sweep."""
