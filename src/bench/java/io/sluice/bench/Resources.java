package io.sluice.bench;

/**
 * What the broker used during one measured window. Null fields were not measurable (a broker given by
 * {@code --target} has no pid here; no metrics endpoint; jcmd failed).
 *
 * @param commitsPerSecond writer commits that held messages, per second (sluice_writer_batch_size_count)
 * @param messagesPerCommit messages per such commit (sluice_writer_batch_size sum / count)
 * @param commitMeanMillis mean time of a writer transaction, acks included (sluice_writer_commit_latency_seconds)
 * @param rssPeakKb highest VmRSS of the broker sampled during the window
 * @param heapAfterGcKb heap used right after a full GC requested through jcmd once the window ended
 * @param threadsPeak highest thread count of the broker (platform threads: carriers, event loops, GC, JIT)
 * @param brokerCpu CPU time the broker used, in % of one core
 * @param clientCpu CPU time this load generator used, in % of one core
 */
record Resources(Double commitsPerSecond, Double messagesPerCommit, Double commitMeanMillis, Long rssPeakKb,
                 Long heapAfterGcKb, Integer threadsPeak, Double brokerCpu, Double clientCpu) {

    static final Resources NONE = new Resources(null, null, null, null, null, null, null, null);

    Resources withHeapAfterGc(Long kb) {
        return new Resources(commitsPerSecond, messagesPerCommit, commitMeanMillis, rssPeakKb, kb, threadsPeak,
                brokerCpu, clientCpu);
    }
}
