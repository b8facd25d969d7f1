package dev.handoff.core.session;

import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdLimits;
import dev.handoff.core.fd.FdMessage;
import dev.handoff.core.fd.PeerCredentials;
import dev.handoff.core.fd.PeerLifeline;
import dev.handoff.core.manifest.ConnectionEntry;
import dev.handoff.core.manifest.ManifestJson;
import dev.handoff.core.wire.Message;
import dev.handoff.core.wire.ProtocolVersions;
import dev.handoff.core.wire.WireChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.FileDescriptor;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.IntConsumer;

/**
 * The incumbent's side of one handoff, driven through the states of {@link IncumbentState}: check the
 * peer, agree on a version, send the manifest and the listeners, wait for READY and confirm it, watch the
 * successor through probation; then, while the application drains, hand its established connections
 * over batch by batch, and say goodbye. Nothing here touches the incumbent's listeners, so a session that
 * ends before the takeover leaves the incumbent exactly as it was.
 */
public final class IncumbentSession {

    private static final Logger log = LoggerFactory.getLogger(IncumbentSession.class);
    private static final int BATCHES_IN_FLIGHT = 4;
    /** The JSON around a batch's entries: {@code {"type":"connections","connections":[...]}} and commas. */
    private static final int BATCH_ENVELOPE_BYTES = 256;

    private final WireChannel wire;
    private final SessionConfig config;
    private final int generation;
    private volatile IncumbentState state = IncumbentState.AWAIT_HELLO;
    private volatile List<String> successorCapabilities = List.of();
    private volatile PeerProcess successor = PeerProcess.ofPid(-1);
    private int successorMaxFdsPerMessage = 1;
    private int successorMaxMessageBytes = FdLimits.DEFAULT.maxPayloadBytes();
    private int version;
    private long readyNanos;

    public IncumbentSession(WireChannel wire, SessionConfig config, int generation) {
        this.wire = wire;
        this.config = config;
        this.generation = generation;
    }

    /**
     * How a session ended, or reached the takeover ({@link IncumbentState#isTakenOver()}).
     *
     * @param state      {@code TAKEN_OVER} (or {@code DETACHED}) when the successor serves, else the final state
     * @param reason     why, in words; "ok" when taken over
     * @param peerPid    the successor's pid, or -1 before it was known
     * @param startNanos when the successor connected ({@link System#nanoTime()})
     * @param endNanos   when READY arrived (probation is not part of the handoff's time), or the session ended
     * @param fds        descriptors sent
     */
    public record Outcome(IncumbentState state, String reason, long peerPid, long startNanos, long endNanos, int fds) {

        public boolean takenOver() {
            return state.isTakenOver();
        }
    }

    /**
     * The one handoff this process runs at a time: taken once a peer's hello is accepted (a probe that
     * only connects never takes it).
     */
    public interface Slot {
        /** Takes the slot; null when taken, else why this process is busy (the peer is told so). */
        String take();
    }

    public IncumbentState state() {
        return state;
    }

    /**
     * Runs the handoff up to the takeover or a final state. {@code snapshot} is called only once the peer
     * is accepted, so that the manifest describes the listeners as they are then.
     */
    public Outcome run(Callable<Snapshot> snapshot, Slot slot) {
        long start = System.nanoTime();
        long peerPid = -1;
        int sent = 0;
        try {
            PeerCredentials peer = wire.peer();
            peerPid = peer.pid();
            successor = PeerProcess.ofPid(peerPid);
            Message.Hello hello;
            try (WireChannel.Received<Message> received = await(IncumbentState.AWAIT_HELLO)) {
                hello = (Message.Hello) received.message();
                // The uid first: a peer that is not allowed learns nothing, not even who else is here.
                String refusal = refusal(peer, hello);
                if (refusal != null) {
                    wire.send(new Message.Refused(refusal));
                    return end(IncumbentState.REFUSED, refusal, peerPid, start, 0);
                }
                String busy = slot.take();
                if (busy != null) {
                    wire.send(new Message.Busy(busy));
                    return end(IncumbentState.BUSY, busy, peerPid, start, 0);
                }
                version = ProtocolVersions.negotiate(hello.versions()).orElseThrow();
                successor = watch(peerPid, hello, received.fds());
            }
            wire.fdChannel().limitSendBatch(hello.maxFdsPerMessage());
            successorMaxFdsPerMessage = Math.max(1, Math.min(hello.maxFdsPerMessage(), FdChannel.maxFdsPerMessage()));
            if (hello.maxMessageBytes() > 0) {
                successorMaxMessageBytes = hello.maxMessageBytes();
            }
            SharedSecret secret = config.secret();
            String nonce = secret == null ? null : SharedSecret.nonce();
            sendWelcome(hello, secret, nonce);
            if (secret != null) {
                String failedProof = checkProof(secret, hello.nonce(), nonce, peer);
                if (failedProof != null) {
                    return end(IncumbentState.REFUSED, failedProof, peerPid, start, 0);
                }
            }
            Snapshot handover = snapshot.call();
            wire.send(new Message.Handover(ManifestJson.toTree(handover.manifest())), handover.fds());
            sent = handover.fds().size();
            Message answer = awaitReady();
            if (answer instanceof Message.Failed failed) {
                return end(IncumbentState.FAILED, "successor failed: " + failed.reason(), peerPid, start, sent);
            }
            readyNanos = System.nanoTime();
            successorCapabilities = ((Message.Ready) answer).capabilities();
            if (version >= ProtocolVersions.CONFIRMED_READY) {
                String notConfirmed = confirm();
                if (notConfirmed != null) {
                    return end(IncumbentState.FAILED, notConfirmed, peerPid, start, sent);
                }
            }
            return watchProbation(peerPid, start, sent);
        } catch (IOException e) {
            return end(state.after(fault(e)), describe(e), peerPid, start, sent);
        } catch (Exception e) {
            return end(IncumbentState.FAILED, state + ": " + e, peerPid, start, sent);
        }
    }

    /** Why {@code hello} is not accepted, or null: the peer's uid, a common version, the secret on both sides. */
    private String refusal(PeerCredentials peer, Message.Hello hello) {
        if (!config.allowedUids().contains(peer.uid())) {
            return "peer pid " + peer.pid() + " runs as uid " + peer.uid() + ", allowed: " + config.allowedUids();
        }
        if (ProtocolVersions.negotiate(hello.versions()).isEmpty()) {
            return "no common protocol version: successor speaks " + hello.versions() + ", we speak "
                    + ProtocolVersions.SUPPORTED;
        }
        if (config.secret() == null && hello.capabilities().contains(Message.SECRET)) {
            return "this process has no shared secret, and successor pid " + peer.pid() + " expects one";
        }
        if (config.secret() != null && hello.nonce() == null) {
            return "peer pid " + peer.pid() + " sent no nonce, so it cannot prove the shared secret";
        }
        return null;
    }

    /** The successor as its lifeline shows it (from version 2), else as /proc shows its pid. */
    private PeerProcess watch(long peerPid, Message.Hello hello, FdMessage fds) throws IOException {
        if (version >= ProtocolVersions.CONFIRMED_READY && hello.capabilities().contains(Message.LIFELINE)
                && fds.fdCount() == 1) {
            return PeerProcess.of(peerPid, PeerLifeline.watch(fds.take(0), "successor-" + peerPid));
        }
        return PeerProcess.ofPid(peerPid);
    }

    private void sendWelcome(Message.Hello hello, SharedSecret secret, String nonce) throws IOException {
        List<String> capabilities = new ArrayList<>();
        if (secret != null) {
            capabilities.add(Message.SECRET);
        }
        List<FileDescriptor> lifeline = List.of();
        if (version >= ProtocolVersions.CONFIRMED_READY && config.lifeline() != null) {
            capabilities.add(Message.LIFELINE);
            lifeline = List.of(config.lifeline().peerEnd());
        }
        wire.send(new Message.Welcome(version, ProcessHandle.current().pid(), generation, FdChannel.maxFdsPerMessage(),
                capabilities, nonce, secret == null ? null : secret.incumbentProof(hello.nonce(), nonce),
                config.limits().maxPayloadBytes()), lifeline);
    }

    /** Null if the successor proved the secret, else why not (and it has been told). */
    private String checkProof(SharedSecret secret, String successorNonce, String nonce, PeerCredentials peer)
            throws IOException {
        Message answer;
        try (WireChannel.Received<Message> received = await(IncumbentState.AWAIT_PROOF)) {
            answer = received.message();
        }
        if (answer instanceof Message.Refused refused) {
            return "successor pid " + peer.pid() + " refused: " + refused.reason();
        }
        if (!SharedSecret.matches(secret.successorProof(successorNonce, nonce), ((Message.Proof) answer).proof())) {
            wire.send(new Message.Refused("wrong shared secret"));
            return "peer pid " + peer.pid() + " did not prove the shared secret";
        }
        return null;
    }

    /** READY or failed; a successor later than the ready timeout is told so (it withdraws) before this fails. */
    private Message awaitReady() throws IOException {
        try (WireChannel.Received<Message> received = await(IncumbentState.AWAIT_READY)) {
            return received.message();
        } catch (IOException e) {
            if (Fault.of(e) == Fault.TIMEOUT) {
                try {
                    wire.send(new Message.Refused("READY did not come within the incumbent's readyTimeout ("
                            + config.readyTimeout() + "); the incumbent serves on"));
                } catch (IOException notTold) {
                    log.debug("could not tell the successor it came too late", notTold);
                }
            }
            throw e;
        }
    }

    /** The commit point: null once the successor has its confirmation, else why it could not get it. */
    private String confirm() {
        try {
            // The successor's reception lasts from now to past the end of this side's drain, which starts
            // only once probation is over.
            wire.send(new Message.Confirmed(config.drainTimeout().plus(config.probation()).toMillis()));
            return null;
        } catch (IOException e) {
            // Not confirmed, so the successor withdraws (or is gone): this process serves on.
            return "could not confirm READY to the successor: " + e.getMessage();
        }
    }

    /**
     * Probation: the successor's death fails the handoff (this process never stopped serving); silence
     * until the deadline is success; anything else leaves the confirmed successor serving, detached.
     */
    private Outcome watchProbation(long peerPid, long start, int sent) {
        if (config.probation().isZero()) {
            return end(IncumbentState.TAKEN_OVER, "ok", peerPid, start, sent);
        }
        state = IncumbentState.PROBATION;
        IncumbentState next;
        String reason;
        try (FdMessage unexpected = wire.fdChannel().receive(config.probation())) {
            next = state.after(Fault.UNEXPECTED);
            reason = "ok, detached: the successor sent a message during probation; it serves, and no connections move to it";
        } catch (IOException e) {
            Fault fault = fault(e);
            next = state.after(fault);
            reason = next == IncumbentState.TAKEN_OVER ? "ok"
                    : next == IncumbentState.DETACHED ? "ok, detached: " + describe(e) : describe(e);
        }
        if (next == IncumbentState.DETACHED) {
            wire.fdChannel().endTraffic();
        }
        return end(next, reason, peerPid, start, sent);
    }

    private WireChannel.Received<Message> await(IncumbentState waiting) throws IOException {
        state = waiting;
        return wire.receive(waiting.deadline().in(config), waiting.expects());
    }

    /**
     * The fault {@code e} stands for: an end of the channel counts as the successor's death only where that
     * changes the outcome, and only once its lifeline (or /proc) says so.
     */
    private Fault fault(IOException e) {
        Fault fault = Fault.of(e);
        if (fault == Fault.PEER_CLOSED && state.after(Fault.PEER_CLOSED) != state.after(Fault.PEER_DIED)
                && successor.isGone(PeerProcess.EXIT_WAIT)) {
            return Fault.PEER_DIED;
        }
        return fault;
    }

    private Outcome end(IncumbentState reached, String reason, long peerPid, long start, int fds) {
        state = reached;
        if (reached.isFinal()) {
            successor.close();
        }
        return new Outcome(reached, reason, peerPid, start,
                reached.isTakenOver() ? readyNanos : System.nanoTime(), fds);
    }

    /**
     * Whether the READY successor said it adopts established connections, is still there, and the traffic
     * to it has not ended (true while a batch waits for its answer too: another caller then waits its turn
     * in {@link #handOverConnections}).
     */
    public boolean successorAdoptsConnections() {
        IncumbentState now = state;
        return (now == IncumbentState.TAKEN_OVER || now == IncumbentState.AWAIT_ADOPTED)
                && successorCapabilities.contains(Message.CONNECTIONS) && !successor.isGone(Duration.ZERO);
    }

    /**
     * Whether the successor is known to be gone after it took over: its process exited (its lifeline
     * ended). A successor that is only slow, stopped or detached still serves, and is not lost.
     */
    public boolean isLost() {
        IncumbentState now = state;
        return now == IncumbentState.LOST || now.isTakenOver() && successor.isGone(Duration.ZERO);
    }

    /** Whether the traffic to the successor ended while it serves: nothing more moves to it. */
    public boolean isDetached() {
        return state == IncumbentState.DETACHED;
    }

    /**
     * Hands established connections to the READY successor: one message per batch (as many descriptors
     * as one message carries, and no more bytes than the successor takes in one), each answered by the
     * successor, with a few batches in flight. A connection too large to send on its own stays here. At
     * the first missing answer the traffic ends both ways, so that a slow successor cannot confirm a batch
     * late: the caller keeps every connection not marked adopted, and no byte of them was read on the
     * other side.
     *
     * @param entries   one per connection; the {@code fd} index is filled in here
     * @param fds       the connections' descriptors, in the same order; they stay open here
     * @param onAdopted told the index of each connection the successor took, batch by batch, so that the
     *                  caller can release it at once
     */
    public synchronized ConnectionTransfer handOverConnections(List<ConnectionEntry> entries, List<FileDescriptor> fds,
                                                               IntConsumer onAdopted) {
        BitSet adopted = new BitSet(entries.size());
        List<String> problems = new ArrayList<>();
        if (state == IncumbentState.TAKEN_OVER && successor.isGone(Duration.ZERO)) {
            state = IncumbentState.LOST;
        }
        if (state != IncumbentState.TAKEN_OVER) {
            problems.add(entries.size() + " connections not handed over: the session is " + state);
            return new ConnectionTransfer(adopted, problems);
        }
        int[] sizes = new int[entries.size()];
        List<Integer> sendable = sendable(entries, sizes, problems);
        ArrayDeque<int[]> unanswered = new ArrayDeque<>();
        int next = 0;
        try {
            while (next < sendable.size() || !unanswered.isEmpty()) {
                // A few batches travel ahead of their answers, so that this side prepares the next one
                // while the successor checks the last.
                if (next < sendable.size() && unanswered.size() < BATCHES_IN_FLIGHT) {
                    int[] batch = nextBatch(sizes, sendable, next);
                    sendBatch(entries, fds, batch);
                    unanswered.add(batch);
                    next += batch.length;
                    continue;
                }
                Message.Adopted answer;
                try (WireChannel.Received<Message> received = await(IncumbentState.AWAIT_ADOPTED)) {
                    answer = (Message.Adopted) received.message();
                }
                state = IncumbentState.TAKEN_OVER;
                markAdopted(unanswered.poll(), answer, adopted, problems, onAdopted);
            }
        } catch (IOException | RuntimeException e) {
            // Ends the traffic both ways first: from now on the successor's answers fail on its side (and it
            // closes its copies), while those it wrote before are still queued here and count.
            wire.fdChannel().endTraffic();
            collectQueuedAnswers(unanswered, adopted, onAdopted);
            IncumbentState failedIn = state;
            Fault fault = e instanceof IOException io ? fault(io) : Fault.MALFORMED;
            state = failedIn.after(fault);
            int left = unanswered.stream().mapToInt(batch -> batch.length).sum() + sendable.size() - next;
            if (left > 0) {
                problems.add(left + " connections not handed over (" + failedIn + ", " + fault + "): " + e.getMessage());
            }
            log.warn("the traffic to the successor ended in {} ({}): {}; {}", failedIn, fault, e.getMessage(),
                    state == IncumbentState.LOST ? "it is gone: this process may serve again"
                            : "it still serves: no more connections move, the rest stay here");
        }
        return new ConnectionTransfer(adopted, problems);
    }

    /**
     * The indexes of the entries that fit in a message on their own (the others stay, with a problem
     * each), and in {@code sizes} a bound on each one's encoded size that batches are cut by: computed,
     * not encoded, since encoding each entry is most of this side's work in a process that drains once
     * and cold; an entry whose bound does not fit is measured exactly.
     */
    private List<Integer> sendable(List<ConnectionEntry> entries, int[] sizes, List<String> problems) {
        int limit = messageLimit();
        List<Integer> sendable = new ArrayList<>(entries.size());
        for (int i = 0; i < entries.size(); i++) {
            ConnectionEntry entry = entries.get(i);
            sizes[i] = ManifestJson.encodedSizeBound(entry);
            if (sizes[i] > limit) {
                sizes[i] = ManifestJson.encodedSize(entry, Integer.MAX_VALUE);
            }
            if (sizes[i] > limit) {
                problems.add("a connection of listener " + entry.listener() + " takes " + sizes[i]
                        + " bytes (its attachment and unread bytes), more than one message carries (" + limit + ")");
            } else {
                sendable.add(i);
            }
        }
        return sendable;
    }

    /** The largest batch payload both sides take, less the batch's envelope. */
    private int messageLimit() {
        return Math.min(config.limits().maxPayloadBytes(), successorMaxMessageBytes) - BATCH_ENVELOPE_BYTES;
    }

    /** The next batch: up to the peer's descriptor limit and as many bytes as one message carries. */
    private int[] nextBatch(int[] sizes, List<Integer> sendable, int from) {
        int limit = messageLimit();
        int to = from;
        long bytes = 0;
        while (to < sendable.size() && to - from < successorMaxFdsPerMessage) {
            int size = sizes[sendable.get(to)] + 1;
            if (to > from && bytes + size > limit) {
                break;
            }
            bytes += size;
            to++;
        }
        return sendable.subList(from, to).stream().mapToInt(Integer::intValue).toArray();
    }

    /** Reads the answers already queued after {@link FdChannel#endTraffic()}; stops at the first incomplete one. */
    private void collectQueuedAnswers(ArrayDeque<int[]> unanswered, BitSet adopted, IntConsumer onAdopted) {
        try {
            while (!unanswered.isEmpty()) {
                Optional<FdMessage> queued = wire.fdChannel().poll();
                if (queued.isEmpty()) {
                    return;
                }
                try (FdMessage frame = queued.get()) {
                    if (!(WireChannel.decode(frame.payload()) instanceof Message.Adopted answer)) {
                        return;
                    }
                    markAdopted(unanswered.poll(), answer, adopted, new ArrayList<>(), onAdopted);
                    log.info("a late answer from the successor was already here: its batch counts as adopted");
                }
            }
        } catch (IOException e) {
            log.debug("no more complete answers queued: {}", e.getMessage());
        }
    }

    private static void markAdopted(int[] batch, Message.Adopted answer, BitSet adopted, List<String> problems,
                                    IntConsumer onAdopted) {
        boolean[] rejected = new boolean[batch.length];
        for (Message.Rejection rejection : answer.rejected()) {
            if (rejection.index() >= 0 && rejection.index() < batch.length) {
                rejected[rejection.index()] = true;
                problems.add("successor rejected a connection: " + rejection.reason());
            }
        }
        for (int i = 0; i < batch.length; i++) {
            if (!rejected[i]) {
                adopted.set(batch[i]);
                onAdopted.accept(batch[i]);
            }
        }
    }

    /**
     * Tells the successor this process is done, after any hand-over under way, and closes the channel and
     * the watch on the successor.
     */
    public synchronized void goodbye(String reason) {
        if (state == IncumbentState.TAKEN_OVER) {
            try {
                wire.send(new Message.Goodbye(reason));
                state = IncumbentState.CLOSED;
            } catch (IOException e) {
                log.debug("successor went away before goodbye", e);
                state = state.after(fault(e));
            }
        }
        if (state == IncumbentState.DETACHED || state == IncumbentState.TAKEN_OVER) {
            state = IncumbentState.CLOSED;
        }
        successor.close();
        try {
            wire.close();
        } catch (IOException e) {
            log.debug("close failed", e);
        }
    }

    private void sendBatch(List<ConnectionEntry> entries, List<FileDescriptor> fds, int[] batch) throws IOException {
        List<ConnectionEntry> message = new ArrayList<>(batch.length);
        List<FileDescriptor> attached = new ArrayList<>(batch.length);
        for (int i = 0; i < batch.length; i++) {
            message.add(entries.get(batch[i]).atFd(i));
            attached.add(fds.get(batch[i]));
        }
        wire.send(new Message.Connections(ManifestJson.connectionsToTree(message)), attached);
    }

    /** The failure in words, with the state it happened in. */
    private String describe(IOException e) {
        String what = switch (Fault.of(e)) {
            case TIMEOUT -> "successor timed out";
            case PEER_CLOSED, PEER_DIED -> "successor closed the connection";
            case MALFORMED -> "successor sent a malformed message";
            case UNEXPECTED -> "successor broke the protocol";
        };
        return what + " in " + state + ": " + e.getMessage();
    }
}
