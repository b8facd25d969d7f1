package dev.handoff.core;

import dev.handoff.core.manifest.ConnectionEntry;
import dev.handoff.core.session.Inheritance;
import dev.handoff.core.session.SuccessorSession;
import dev.handoff.core.session.SuccessorState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * This process's link to the incumbent it took over from: what it inherited, READY, and then the
 * connections the predecessor hands over while it drains, until its goodbye. Owns the thread that
 * receives them and the signal that the predecessor is done.
 */
final class PredecessorLink {

    private static final Logger log = LoggerFactory.getLogger(PredecessorLink.class);

    private final SuccessorSession predecessor;
    private final HandoffMetrics metrics;
    private final CountDownLatch finished = new CountDownLatch(1);
    private final AtomicInteger adopted = new AtomicInteger();

    PredecessorLink(SuccessorSession predecessor, HandoffMetrics metrics) {
        this.predecessor = predecessor;
        this.metrics = metrics;
    }

    Inheritance inheritance() {
        return predecessor.inheritance();
    }

    int generation() {
        return predecessor.incumbentGeneration();
    }

    long pid() {
        return predecessor.incumbentPid();
    }

    /**
     * Says READY and waits for the predecessor to confirm it; from then on the predecessor's connections go
     * to {@code handlers} (none are asked for without any). If the predecessor died meanwhile, this process
     * serves what it was handed (the only copies left) and says so. {@code serving} runs once this process is
     * known to serve, before its READY line.
     *
     * @throws HandoffRejectedException the predecessor is there and did not confirm READY (it gave up
     *                                  waiting for it): it serves on, and this process must not
     */
    void ready(ConnectionHandlers handlers, int generation, Runnable serving) throws HandoffRejectedException {
        SuccessorSession.Readiness readiness = predecessor.ready(!handlers.isEmpty());
        HandoffResult result = HandoffResult.of(readiness.serves() ? HandoffResult.Outcome.SUCCEEDED
                : HandoffResult.Outcome.FAILED, readiness.reason(), pid(), predecessor.startNanos(),
                predecessor.inheritance().manifest().fdCount());
        if (readiness.state() == SuccessorState.ALONE) {
            result = HandoffResult.of(HandoffResult.Outcome.FAILED, readiness.reason(), pid(), System.nanoTime(), 0);
        }
        metrics.handoff(HandoffMetrics.SUCCESSOR, result);
        switch (readiness.state()) {
            case RECEIVING -> {
                serving.run();
                log.info("READY generation {} after handoff from pid {} in {} ms", generation, result.peerPid(),
                        result.duration().toNanos() / 1e6);
                Thread receiver = new Thread(() -> receive(handlers), "handoff-predecessor");
                receiver.setDaemon(true);
                receiver.start();
            }
            case WITHDRAWN -> {
                finish();
                log.error("READY generation {}: {}", generation, readiness.reason());
                throw new HandoffRejectedException(HandoffResult.Outcome.FAILED, readiness.reason(), null);
            }
            default -> {
                finish();
                serving.run();
                log.warn("READY generation {}: {}", generation, readiness.reason());
            }
        }
    }

    private void receive(ConnectionHandlers handlers) {
        try {
            predecessor.receiveConnections(handlers.isEmpty() ? null : new SuccessorSession.ConnectionHandler() {
                @Override
                public boolean adopts(String listener) {
                    return handlers.forListener(listener).isPresent();
                }

                @Override
                public void adopt(ConnectionEntry entry, SocketChannel channel) {
                    metrics.connections(HandoffMetrics.SUCCESSOR, "adopted", 1);
                    adopted.incrementAndGet();
                    handlers.forListener(entry.listener()).orElseThrow().accept(Connection.adopted(entry, channel));
                }
            });
        } finally {
            finish();
        }
    }

    /** Connections adopted from the predecessor so far. */
    int connectionsAdopted() {
        return adopted.get();
    }

    /**
     * Whether the predecessor is done handing connections over within {@code timeout}: at most two
     * generations run at once, and a third must not take over connections half-moved into this one.
     */
    boolean awaitFinished(Duration timeout) {
        try {
            return finished.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private void finish() {
        finished.countDown();
        close();
    }

    /** Closes the link and whatever was inherited and not claimed. */
    void close() {
        predecessor.inheritance().closeUnclaimed();
        try {
            predecessor.close();
        } catch (IOException e) {
            log.debug("close failed", e);
        }
    }
}
