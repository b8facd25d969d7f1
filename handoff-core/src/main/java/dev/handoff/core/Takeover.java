package dev.handoff.core;

import dev.handoff.core.channel.Channels;
import dev.handoff.core.manifest.ConnectionEntry;
import dev.handoff.core.session.ConnectionTransfer;
import dev.handoff.core.session.IncumbentSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.FileDescriptor;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.function.Consumer;

/**
 * A successor has taken over: the handle through which this process drains. The successor serves and
 * accepts on every listener; this process stops accepting, finishes what is in flight, and at each
 * connection's quiet point (no request in flight, nothing left to write) {@linkplain #handOver hands it
 * over}; then it calls {@link #done()} and exits.
 * <pre>{@code
 * handoff.onExit(takeover -> loop.execute(() -> {
 *     // stop accepting; for each quiet connection: key.cancel(); selector.selectNow(); then
 *     List<Connection> kept = takeover.handOver(quiet);   // what the successor did not take stays yours
 *     if (takeover.resume()) { ... serve again: the successor vanished mid-drain ... }
 *     if (nothing left || takeover.isExpired()) { takeover.done(); System.exit(0); }
 * }));
 * }</pre>
 * The drain is bounded by {@link HandoffOptions#drainTimeout()}: at the {@link #deadline()} the takeover
 * ends by itself (the successor is told goodbye, so that it may accept the next generation, and nothing
 * moves any more); what the application still holds is then its own to close.
 */
public final class Takeover {

    private static final Logger log = LoggerFactory.getLogger(Takeover.class);
    private static final Duration NO_LIMIT = Duration.ofDays(36_500);

    private final IncumbentSession successor;
    private final HandoffResult handoff;
    private final Instant deadline;
    private final Rendezvous rendezvous;
    private final Handoff owner;
    private final HandoffMetrics metrics;
    private final Thread deadlineWatch;
    private int handedOver; // guarded by this
    private int kept; // guarded by this
    private boolean ended; // guarded by this: done, expired or resumed

    Takeover(IncumbentSession successor, HandoffResult handoff, Duration drainTimeout, Rendezvous rendezvous,
             Handoff owner) {
        this.successor = successor;
        this.handoff = handoff;
        // A century stands for "no limit": Instant cannot go past year 1,000,000,000.
        this.deadline = Instant.now().plus(drainTimeout.compareTo(NO_LIMIT) > 0 ? NO_LIMIT : drainTimeout);
        this.rendezvous = rendezvous;
        this.owner = owner;
        this.metrics = owner.metrics();
        this.deadlineWatch = new Thread(this::expireAtDeadline, "handoff-drain-deadline");
        deadlineWatch.setDaemon(true);
        deadlineWatch.start();
    }

    /** How the handoff went: the successor's pid, how long it took, how many descriptors moved. */
    public HandoffResult handoff() {
        return handoff;
    }

    /** Whether the successor adopts established connections (it said so at READY), and is still there. */
    public boolean successorAdoptsConnections() {
        return successor.successorAdoptsConnections();
    }

    /**
     * Hands established connections to the successor, at a point where no request is in flight on them.
     * Each channel must be open, connected and no longer registered with any selector (cancel its key and
     * let the selector run once), with no thread blocked on it. The successor adopts them in batches;
     * those it took are closed here, which leaves the connection itself open.
     *
     * @return the connections the successor did not take (it does not adopt any, it refused some, it
     *         vanished, or the takeover has ended): still open, still this process's, not a byte read by
     *         anyone else
     */
    public List<Connection> handOver(Collection<Connection> connections) {
        return handOver(connections, moved -> { });
    }

    /**
     * Like {@link #handOver(Collection)}, telling {@code onMoved} of each connection as soon as the successor
     * has it (its channel here just closed), batch by batch while later batches travel: a server can forget
     * the connections that moved meanwhile. {@code onMoved} runs on the calling thread; what it throws is
     * logged and changes nothing of the hand-over.
     */
    public List<Connection> handOver(Collection<Connection> connections, Consumer<Connection> onMoved) {
        List<Connection> offered = List.copyOf(connections);
        for (Connection connection : offered) {
            if (connection.channel().isRegistered()) {
                throw new IllegalArgumentException(connection.channel() + " is still registered with a selector: cancel "
                        + "its key and let the selector run (selectNow) before handing it over");
            }
        }
        if (offered.isEmpty() || hasEnded() || !successorAdoptsConnections()) {
            count(0, offered.size());
            return offered;
        }
        long start = System.nanoTime();
        List<ConnectionEntry> entries = new ArrayList<>(offered.size());
        List<FileDescriptor> fds = new ArrayList<>(offered.size());
        for (Connection connection : offered) {
            entries.add(connection.entry());
            fds.add(Channels.fileDescriptor(connection.channel()));
        }
        // Each adopted channel is closed as soon as its batch is answered: not registered, nobody blocked
        // on it, so only our descriptor goes and the connection stays up.
        ConnectionTransfer transfer = successor.handOverConnections(entries, fds, i -> moved(offered.get(i), onMoved));
        List<Connection> stayed = new ArrayList<>();
        for (int i = 0; i < offered.size(); i++) {
            if (!transfer.adopted().get(i)) {
                stayed.add(offered.get(i));
            }
        }
        count(offered.size() - stayed.size(), stayed.size());
        if (!transfer.problems().isEmpty()) {
            log.warn("{} of {} connections stay here: {}", stayed.size(), offered.size(), transfer.problems());
        }
        log.info("handed over {} of {} connections in {} ms", offered.size() - stayed.size(), offered.size(),
                (System.nanoTime() - start) / 1e6);
        return stayed;
    }

    private synchronized void count(int adopted, int stayed) {
        handedOver += adopted;
        kept += stayed;
        metrics.connections(HandoffMetrics.INCUMBENT, "adopted", adopted);
        metrics.connections(HandoffMetrics.INCUMBENT, "kept", stayed);
    }

    /**
     * Counts connections this process closes (gracefully) at its drain instead of handing them over, by
     * why they could not move ({@code tls}, {@code upgraded}, ...): {@code handoff.connections.closed}.
     */
    public void connectionsClosed(String reason, int count) {
        metrics.connectionsClosed(reason, count);
    }

    /** Done, resumed, or past the deadline: nothing moves any more. */
    private synchronized boolean hasEnded() {
        return ended;
    }

    /** Connections the successor adopted so far. */
    public synchronized int connectionsHandedOver() {
        return handedOver;
    }

    /** Connections offered so far that stayed here. */
    public synchronized int connectionsKept() {
        return kept;
    }

    /**
     * Whether the successor is gone: its process exited after it took over (its lifeline ended; across pid
     * namespaces too). A successor that is only slow, stopped, or no longer answers still serves the
     * listeners, and is not lost: then {@link #successorAdoptsConnections()} turns false, and this process
     * drains what it kept on its own.
     */
    public boolean isSuccessorLost() {
        return successor.isLost();
    }

    /**
     * Makes this process the incumbent again after its successor died during the drain: successors may
     * connect again, and {@code onExit} callbacks run for the next one. The application goes back to
     * accepting on its listeners (which it keeps open until its drain is over for this reason) and serves
     * the connections it still has. Nobody else serves them: the successor is known to be gone.
     *
     * @return false, changing nothing, unless the successor is gone ({@link #isSuccessorLost()})
     */
    public boolean resume() {
        synchronized (this) {
            if (ended) {
                return false;
            }
            if (!rendezvous.resume(this, successor)) {
                return false;
            }
            ended = true;
        }
        deadlineWatch.interrupt();
        return true;
    }

    /** When the drain must be over: the takeover plus {@link HandoffOptions#drainTimeout()}. */
    public Instant deadline() {
        return deadline;
    }

    /** Whether the deadline has passed (the takeover then ended by itself). */
    public boolean isExpired() {
        return !Instant.now().isBefore(deadline);
    }

    /**
     * The drain is over: tells the successor goodbye (after any hand-over under way) and closes the
     * {@link Handoff}. The application then exits. Idempotent.
     */
    public void done() {
        synchronized (this) {
            if (ended) {
                return;
            }
            ended = true;
        }
        deadlineWatch.interrupt();
        closeHandoff();
    }

    /** Said by the rendezvous when the Handoff closes. */
    void sayGoodbye(String reason) {
        successor.goodbye(reason);
    }

    private void expireAtDeadline() {
        try {
            // Past the deadline, not up to a millisecond short of it: isExpired() must agree from here on.
            Duration left;
            while ((left = Duration.between(Instant.now(), deadline)).compareTo(Duration.ZERO) > 0) {
                Thread.sleep(left.toMillis() + 1);
            }
        } catch (InterruptedException e) {
            return; // done or resumed first
        }
        synchronized (this) {
            if (ended) {
                return;
            }
            ended = true;
        }
        log.warn("the drain passed its deadline ({} after the takeover): the successor is told goodbye and no "
                + "more connections move; {} handed over, {} kept so far", owner.options().drainTimeout(),
                connectionsHandedOver(), connectionsKept());
        closeHandoff();
    }

    private void closeHandoff() {
        try {
            owner.close();
        } catch (IOException e) {
            log.warn("closing the handoff failed", e);
        }
    }

    private static void moved(Connection connection, Consumer<Connection> onMoved) {
        try {
            connection.channel().close();
        } catch (IOException e) {
            log.debug("close failed", e);
        }
        try {
            onMoved.accept(connection);
        } catch (RuntimeException e) {
            log.warn("the caller's hook for a moved connection failed", e);
        }
    }
}
