"""Sources: capture files (and later Kafka, the simulator) producing SpanBatches."""
