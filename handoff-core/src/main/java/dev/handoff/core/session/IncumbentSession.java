package dev.handoff.core.session;

import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdMessage;
import dev.handoff.core.fd.PeerCredentials;
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
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import java.util.function.IntConsumer;

/**
 * The incumbent's side of one handoff, driven through the states of {@link IncumbentState}: check the
 * peer, agree on a version, send the manifest and the listeners, wait for READY, watch the successor
 * through probation; then, while the application drains, hand its established connections over batch by
 * batch, and say goodbye. Nothing here touches the incumbent's listeners, so a session that ends anywhere
 * but {@link IncumbentState#TAKEN_OVER} leaves the incumbent exactly as it was.
 */
public final class IncumbentSession {

    private static final Logger log = LoggerFactory.getLogger(IncumbentSession.class);
    private static final int BATCHES_IN_FLIGHT = 4;

    private final WireChannel wire;
    private final SessionConfig config;
    private final int generation;
    private volatile IncumbentState state = IncumbentState.AWAIT_HELLO;
    private volatile List<String> successorCapabilities = List.of();
    private int successorMaxFdsPerMessage = 1;
    private long readyNanos;

    public IncumbentSession(WireChannel wire, SessionConfig config, int generation) {
        this.wire = wire;
        this.config = config;
        this.generation = generation;
    }

    /**
     * How a session ended, or reached {@link IncumbentState#TAKEN_OVER}.
     *
     * @param state      {@code TAKEN_OVER} when the successor serves, else the final state
     * @param reason     why, in words; "ok" when taken over
     * @param peerPid    the successor's pid, or -1 before it was known
     * @param startNanos when the successor connected ({@link System#nanoTime()})
     * @param endNanos   when READY arrived (probation is not part of the handoff's time), or the session ended
     * @param fds        descriptors sent
     */
    public record Outcome(IncumbentState state, String reason, long peerPid, long startNanos, long endNanos, int fds) {

        public boolean takenOver() {
            return state == IncumbentState.TAKEN_OVER;
        }
    }

    /** Tells a successor, in answer to its hello, why it cannot take over now. */
    public static void refuseBusy(WireChannel wire, Duration timeout, String reason) {
        try {
            // Read the hello first: a peer whose hello meets a closed socket never learns why.
            wire.receive(timeout, Message.Hello.class).close();
            wire.send(new Message.Busy(reason));
        } catch (IOException e) {
            log.debug("could not tell a second successor that we are busy", e);
        }
    }

    public IncumbentState state() {
        return state;
    }

    /**
     * Runs the handoff up to {@link IncumbentState#TAKEN_OVER} or a final state. {@code snapshot} is called
     * only once the peer is accepted, so that the manifest describes the listeners as they are then.
     */
    public Outcome run(Callable<Snapshot> snapshot) {
        long start = System.nanoTime();
        long peerPid = -1;
        int sent = 0;
        try {
            PeerCredentials peer = wire.peer();
            peerPid = peer.pid();
            Message.Hello hello;
            try (WireChannel.Received<Message> received = await(IncumbentState.AWAIT_HELLO)) {
                hello = (Message.Hello) received.message();
            }
            String refusal = refusal(peer, hello);
            if (refusal != null) {
                wire.send(new Message.Refused(refusal));
                return end(IncumbentState.REFUSED, refusal, peerPid, start, 0);
            }
            OptionalInt version = ProtocolVersions.negotiate(hello.versions());
            wire.fdChannel().limitSendBatch(hello.maxFdsPerMessage());
            successorMaxFdsPerMessage = Math.max(1, Math.min(hello.maxFdsPerMessage(), FdChannel.maxFdsPerMessage()));
            SharedSecret secret = config.secret();
            String nonce = secret == null ? null : SharedSecret.nonce();
            wire.send(new Message.Welcome(version.orElseThrow(), ProcessHandle.current().pid(), generation,
                    FdChannel.maxFdsPerMessage(), secret == null ? List.of() : List.of(Message.SECRET), nonce,
                    secret == null ? null : secret.incumbentProof(hello.nonce(), nonce)));
            if (secret != null) {
                String failedProof = checkProof(secret, hello.nonce(), nonce, peer);
                if (failedProof != null) {
                    return end(IncumbentState.REFUSED, failedProof, peerPid, start, 0);
                }
            }
            Snapshot handover = snapshot.call();
            wire.send(new Message.Handover(ManifestJson.toTree(handover.manifest())), handover.fds());
            sent = handover.fds().size();
            Message answer;
            try (WireChannel.Received<Message> received = await(IncumbentState.AWAIT_READY)) {
                answer = received.message();
            }
            if (answer instanceof Message.Failed failed) {
                return end(IncumbentState.FAILED, "successor failed: " + failed.reason(), peerPid, start, sent);
            }
            successorCapabilities = ((Message.Ready) answer).capabilities();
            readyNanos = System.nanoTime();
            return watchProbation(peerPid, start, sent);
        } catch (IOException e) {
            return end(state.after(Fault.of(e)), describe(e), peerPid, start, sent);
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
        if (config.secret() == null && hello.capabilities() != null && hello.capabilities().contains(Message.SECRET)) {
            return "this process has no shared secret, and successor pid " + peer.pid() + " expects one";
        }
        if (config.secret() != null && hello.nonce() == null) {
            return "peer pid " + peer.pid() + " sent no nonce, so it cannot prove the shared secret";
        }
        return null;
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

    /** Probation: any message, or the successor's end closing, fails the handoff; silence until the deadline is success. */
    private Outcome watchProbation(long peerPid, long start, int sent) {
        if (config.probation().isZero()) {
            return end(IncumbentState.TAKEN_OVER, "ok", peerPid, start, sent);
        }
        state = IncumbentState.PROBATION;
        try (FdMessage unexpected = wire.fdChannel().receive(config.probation())) {
            return end(IncumbentState.FAILED, "successor sent an unexpected message during probation", peerPid, start, sent);
        } catch (IOException e) {
            IncumbentState next = state.after(Fault.of(e));
            return end(next, next == IncumbentState.TAKEN_OVER ? "ok" : describe(e), peerPid, start, sent);
        }
    }

    private WireChannel.Received<Message> await(IncumbentState waiting) throws IOException {
        state = waiting;
        return wire.receive(waiting.deadline().in(config), waiting.expects());
    }

    private Outcome end(IncumbentState reached, String reason, long peerPid, long start, int fds) {
        state = reached;
        return new Outcome(reached, reason, peerPid, start,
                reached == IncumbentState.TAKEN_OVER ? readyNanos : System.nanoTime(), fds);
    }

    /**
     * Whether the READY successor said it adopts established connections, and no hand-over to it failed
     * and no goodbye was said (true while a batch waits for its answer too: another caller then waits its
     * turn in {@link #handOverConnections}).
     */
    public boolean successorAdoptsConnections() {
        IncumbentState now = state;
        return (now == IncumbentState.TAKEN_OVER || now == IncumbentState.AWAIT_ADOPTED)
                && successorCapabilities.contains(Message.CONNECTIONS);
    }

    /** Whether a hand-over of connections found the successor gone (or unresponsive) after READY. */
    public boolean isLost() {
        return state == IncumbentState.LOST;
    }

    /**
     * Hands established connections to the READY successor: one message per batch (as many descriptors
     * as one message carries), each answered by the successor, with a few batches in flight. Stops at the
     * first missing answer and shuts the channel, so that a slow successor cannot confirm a batch late:
     * the caller keeps every connection not marked adopted, and no byte of them was read on the other side.
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
        if (state != IncumbentState.TAKEN_OVER) {
            problems.add(entries.size() + " connections not handed over: the session is " + state);
            return new ConnectionTransfer(adopted, problems);
        }
        ArrayDeque<int[]> unanswered = new ArrayDeque<>();
        int from = 0;
        try {
            while (from < entries.size() || !unanswered.isEmpty()) {
                // A few batches travel ahead of their answers, so that this side prepares the next one
                // while the successor checks the last.
                if (from < entries.size() && unanswered.size() < BATCHES_IN_FLIGHT) {
                    int to = batchEnd(entries, from);
                    sendBatch(entries, fds, from, to);
                    unanswered.add(new int[] {from, to});
                    from = to;
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
            state = IncumbentState.LOST;
            // Ends the traffic both ways first: from now on the successor's answers fail on its side (and it
            // closes its copies), while those it wrote before are still queued here and count.
            wire.fdChannel().endTraffic();
            collectQueuedAnswers(unanswered, adopted, onAdopted);
            wire.shutdown();
            int answered = unanswered.isEmpty() ? from : unanswered.peek()[0];
            if (answered < entries.size()) {
                problems.add((entries.size() - answered) + " connections not handed over: " + e.getMessage());
            }
        }
        return new ConnectionTransfer(adopted, problems);
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
        adopted.set(batch[0], batch[1]);
        for (Message.Rejection rejection : answer.rejected()) {
            if (rejection.index() >= 0 && rejection.index() < batch[1] - batch[0]) {
                adopted.clear(batch[0] + rejection.index());
                problems.add("successor rejected a connection: " + rejection.reason());
            }
        }
        for (int i = adopted.nextSetBit(batch[0]); i >= 0 && i < batch[1]; i = adopted.nextSetBit(i + 1)) {
            onAdopted.accept(i);
        }
    }

    /** Tells the successor this process is done, after any hand-over under way, and closes the channel. */
    public synchronized void goodbye(String reason) {
        if (state == IncumbentState.TAKEN_OVER) {
            try {
                wire.send(new Message.Goodbye(reason));
                state = IncumbentState.CLOSED;
            } catch (IOException e) {
                log.debug("successor went away before goodbye", e);
                state = state.after(Fault.of(e));
            }
        }
        try {
            wire.close();
        } catch (IOException e) {
            log.debug("close failed", e);
        }
    }

    private void sendBatch(List<ConnectionEntry> entries, List<FileDescriptor> fds, int from, int to) throws IOException {
        List<ConnectionEntry> batch = new ArrayList<>(to - from);
        for (int i = from; i < to; i++) {
            ConnectionEntry entry = entries.get(i);
            batch.add(new ConnectionEntry(entry.listener(), i - from, entry.localAddress(), entry.localPort(),
                    entry.remoteAddress(), entry.remotePort(), entry.attachment(), entry.unread()));
        }
        wire.send(new Message.Connections(ManifestJson.connectionsToTree(batch)), fds.subList(from, to));
    }

    /** Where the batch that starts at {@code from} ends: the peer's descriptor limit or about 1 MiB of JSON. */
    private int batchEnd(List<ConnectionEntry> entries, int from) {
        int to = from;
        long bytes = 0;
        while (to < entries.size() && to - from < successorMaxFdsPerMessage && (to == from || bytes < (1 << 20))) {
            bytes += 256 + entries.get(to).unread().length * 4L / 3;
            to++;
        }
        return to;
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
