package dev.handoff.core;

import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdServer;
import dev.handoff.core.session.IncumbentSession;
import dev.handoff.core.session.IncumbentState;
import dev.handoff.core.session.SessionConfig;
import dev.handoff.core.wire.WireChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The incumbent's door: the rendezvous socket, the thread that accepts successors on it, one session at
 * a time, and the path kept pointing at this process (put back when someone deletes it, taken back when a
 * failed successor had already renamed its own socket over it). While a takeover is under way every
 * further successor is told busy. Owns the acceptor and watcher threads, the session slot and the takeover.
 *
 * <p>As a state machine: SERVING (accepting successors) → a session → SERVING again when it fails, or
 * TAKEN_OVER when the successor serves; TAKEN_OVER → SERVING on {@link Takeover#resume()}; any → CLOSED.
 */
final class Rendezvous implements Closeable {

    private static final Logger log = LoggerFactory.getLogger(Rendezvous.class);
    private static final Duration PATH_CHECK = Duration.ofSeconds(1);
    private static final long MAX_ACCEPT_PAUSE_MILLIS = 1000;

    private final HandoffOptions options;
    private final SessionConfig config;
    private final int generation;
    private final ListenerRegistry listeners;
    private final PredecessorLink predecessor; // null after a cold start
    private final HandoffEvents events;
    private final Handoff handoff;
    private final AtomicBoolean sessionActive = new AtomicBoolean();
    private volatile FdServer server;
    private volatile Takeover successor; // the takeover under way, or null
    private volatile boolean closed;

    Rendezvous(HandoffOptions options, SessionConfig config, int generation, ListenerRegistry listeners,
               PredecessorLink predecessor, HandoffEvents events, Handoff handoff) {
        this.options = options;
        this.config = config;
        this.generation = generation;
        this.listeners = listeners;
        this.predecessor = predecessor;
        this.events = events;
        this.handoff = handoff;
    }

    /**
     * Binds the rendezvous socket: a successor takes the path over from its predecessor (atomic rename), a
     * cold start refuses to replace a live one. Successors queue until {@link #accept()}.
     */
    void bind() throws IOException {
        checkDirectory(options.socketPath()); // its length Handoff.start checked
        server = predecessor != null ? FdServer.takeOver(options.socketPath(), options.limits())
                : FdServer.bind(options.socketPath(), options.limits());
    }

    /** Creates the socket's directory (0700) if it is missing, and refuses one that others may use. */
    static void checkDirectory(Path socketPath) throws RendezvousPathException {
        try {
            FdServer.prepareDirectory(socketPath.toAbsolutePath().getParent());
        } catch (IOException e) {
            throw new RendezvousPathException(RendezvousPathException.Problem.DIRECTORY, socketPath, e.getMessage(), e);
        }
    }

    /** Refuses a socket path whose private name would not fit a Unix socket address. */
    static void checkLength(Path socketPath) throws RendezvousPathException {
        int bytes = FdServer.boundAddressBytes(socketPath);
        if (bytes > FdServer.MAX_ADDRESS_BYTES) {
            throw new RendezvousPathException(RendezvousPathException.Problem.TOO_LONG, socketPath, "rendezvous socket path "
                    + socketPath.toAbsolutePath() + " is too long: the private name bound beside it takes " + bytes
                    + " bytes, and a Unix socket address holds " + FdServer.MAX_ADDRESS_BYTES + "; shorten it by "
                    + (bytes - FdServer.MAX_ADDRESS_BYTES) + " bytes or more", null);
        }
    }

    /** Starts accepting successors (and watching the path). */
    void accept() throws IOException {
        // Describe the listeners once now: the first handoff then runs warm code while its successor waits.
        listeners.snapshot(generation);
        start("handoff-rendezvous", this::acceptSuccessors);
        start("handoff-rendezvous-watch", this::watchPath);
    }

    boolean isSessionActive() {
        return sessionActive.get();
    }

    /**
     * Accepts peers, each on a session thread of its own: the slot is taken only once a hello arrives, so
     * that a liveness probe (connect and close) is no handoff and keeps no successor out. An accept error
     * (no descriptors left under load, say) is retried with a growing pause, never the end of it.
     */
    private void acceptSuccessors() {
        long pauseMillis = 0;
        while (!closed) {
            FdServer current = server;
            FdChannel channel;
            try {
                channel = current.accept();
                pauseMillis = 0;
            } catch (IOException e) {
                if (closed || current != server) {
                    continue;
                }
                if (pauseMillis == 0) {
                    log.warn("accepting on the rendezvous socket failed; trying again until it works", e);
                }
                pauseMillis = Math.min(MAX_ACCEPT_PAUSE_MILLIS, Math.max(10, pauseMillis * 2));
                try {
                    Thread.sleep(pauseMillis);
                } catch (InterruptedException interrupted) {
                    return;
                }
                continue;
            }
            WireChannel wire = new WireChannel(channel, config.stepTimeout());
            start("handoff-session", () -> runSession(wire));
        }
    }

    /** The session slot of one peer: taken at most once, given back when its session ends. */
    private final class Slot implements IncumbentSession.Slot {
        private boolean taken;

        @Override
        public String take() {
            if (successor != null) {
                return "generation " + generation + " has been taken over and drains; try again once it has exited";
            }
            if (!sessionActive.compareAndSet(false, true)) {
                return "another handoff is in progress";
            }
            taken = true;
            if (predecessor != null && !predecessor.awaitFinished(config.stepTimeout().dividedBy(2))) {
                return "generation " + (generation - 1) + " (pid " + predecessor.pid() + ") is still handing its "
                        + "connections to this process (generation " + generation + "); at most two generations run "
                        + "at once, try again once it has exited";
            }
            return null;
        }

        void release() {
            if (taken) {
                sessionActive.set(false);
            }
        }
    }

    private void runSession(WireChannel wire) {
        HandoffResult result;
        Slot slot = new Slot();
        try {
            IncumbentSession session = new IncumbentSession(wire, config, generation);
            IncumbentSession.Outcome outcome = session.run(() -> listeners.snapshot(generation), slot);
            if (outcome.state() == IncumbentState.UNHEARD) {
                log.debug("a peer (pid {}) connected and left without a hello: a probe, not a handoff", outcome.peerPid());
                closeQuietly(wire);
                return;
            }
            result = HandoffResult.between(outcomeOf(outcome.state()), outcome.reason(), outcome.peerPid(),
                    outcome.startNanos(), outcome.endNanos(), outcome.fds());
            if (outcome.takenOver()) {
                successor = new Takeover(session, result, options.drainTimeout(), this, handoff);
                log.info("handed over to pid {} in {} ms ({} descriptors)", result.peerPid(),
                        result.duration().toNanos() / 1e6, result.fds());
            } else {
                closeQuietly(wire);
                if (outcome.state() == IncumbentState.BUSY) {
                    log.info("told successor pid {} we are busy: {}", result.peerPid(), result.reason());
                } else {
                    log.warn("handoff to pid {} {}: {}; still serving", result.peerPid(), result.outcome(), result.reason());
                    reclaimPath();
                }
            }
            events.record(result);
        } finally {
            slot.release();
        }
        // Only now: whoever a callback tells about a failure may send the next successor at once.
        events.announce(result);
        Takeover takeover = successor;
        if (result.succeeded() && takeover != null) {
            events.takenOver(takeover);
        }
    }

    private static HandoffResult.Outcome outcomeOf(IncumbentState state) {
        return switch (state) {
            case TAKEN_OVER, DETACHED -> HandoffResult.Outcome.SUCCEEDED;
            case REFUSED -> HandoffResult.Outcome.REFUSED;
            case BUSY -> HandoffResult.Outcome.BUSY;
            default -> HandoffResult.Outcome.FAILED;
        };
    }

    /**
     * Serves again after {@code takeover}'s successor died mid-drain: takes the path back and accepts the
     * next successor. False, changing nothing, unless that takeover is the current one and its successor
     * is known to be gone (a successor that is only slow or detached still serves).
     */
    synchronized boolean resume(Takeover takeover, IncumbentSession session) {
        if (closed || successor != takeover || !session.isLost()) {
            return false;
        }
        session.goodbye("resuming");
        successor = null;
        events.resumed();
        reclaimPath();
        log.warn("the successor went away while connections were handed over to it; serving again as generation {}",
                generation);
        return true;
    }

    /**
     * Puts the rendezvous socket back when someone deletes or replaces it (a tmpfiles clean-up, an
     * operator's rm): without it the next successor would find nobody, start cold and fail to bind. A
     * live socket of another process there is left alone, with one error in the log.
     */
    private void watchPath() {
        boolean warned = false;
        while (!closed) {
            try {
                Thread.sleep(PATH_CHECK.toMillis());
            } catch (InterruptedException e) {
                return;
            }
            // During a session the successor renames its own socket into place: not ours to undo. (Should a
            // session start just after this check, the successor's own watcher puts its socket back.)
            FdServer current = server;
            if (successor != null || sessionActive.get() || closed || current.ownsPath()) {
                warned = false;
            } else if (FdServer.isLive(options.socketPath())) {
                if (!warned) {
                    log.error("another process listens at {}; successors will reach it, not this process",
                            options.socketPath());
                }
                warned = true;
            } else {
                log.warn("the rendezvous socket at {} was deleted or replaced; putting it back", options.socketPath());
                reclaimPath();
            }
        }
    }

    /** A successor that failed after renaming its own socket into place must not leave us unreachable. */
    private synchronized void reclaimPath() {
        FdServer current = server;
        if (closed || current.ownsPath()) {
            return;
        }
        try {
            server = FdServer.takeOver(options.socketPath(), options.limits());
            current.close();
        } catch (IOException e) {
            log.warn("could not take back the rendezvous socket at {}", options.socketPath(), e);
        }
    }

    /** Stops accepting successors, releases the socket, and says goodbye to a successor that took over. */
    @Override
    public void close() {
        Takeover takeover;
        FdServer current;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            takeover = successor;
            current = server;
        }
        // Goodbye first: the successor stops waiting for connections at once, whatever closing the socket costs.
        if (takeover != null) {
            takeover.sayGoodbye("incumbent exits");
        }
        if (current != null) {
            closeQuietly(current);
        }
    }

    private static void start(String name, Runnable task) {
        Thread thread = new Thread(task, name);
        thread.setDaemon(true);
        thread.start();
    }

    private static void closeQuietly(Closeable closeable) {
        try {
            closeable.close();
        } catch (IOException e) {
            log.debug("close failed", e);
        }
    }
}
