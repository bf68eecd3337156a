"""Speaking: voices behind `Voice`, text normalisation and clause splitting, emotional prosody."""
