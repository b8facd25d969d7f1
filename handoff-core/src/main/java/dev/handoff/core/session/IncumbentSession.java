package dev.handoff.core.session;

import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdChannelException;
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
 * The incumbent's side of one handoff: check the peer, agree on a version, send the manifest and the
 * descriptors, wait for READY, then watch the successor through a short probation. The incumbent keeps
 * serving throughout; nothing here touches its listeners, so any failure simply leaves it as it was.
 * After a successful handoff the same session hands over established connections, batch by batch.
 */
public final class IncumbentSession {

    private static final Logger log = LoggerFactory.getLogger(IncumbentSession.class);
    private static final int BATCHES_IN_FLIGHT = 4;

    private final WireChannel wire;
    private final SessionConfig config;
    private final int generation;
    private volatile List<String> successorCapabilities = List.of();
    private volatile boolean lost;
    private int peerMaxFdsPerMessage = 1;

    public IncumbentSession(WireChannel wire, SessionConfig config, int generation) {
        this.wire = wire;
        this.config = config;
        this.generation = generation;
    }

    /** Tells a successor, in answer to its hello, why it cannot take over now. */
    public static void sendBusy(WireChannel wire, Duration timeout, String reason) {
        try {
            // Read the hello first: a peer whose hello meets a closed socket never learns why.
            wire.receive(timeout, Message.Hello.class).close();
            wire.send(new Message.Busy(reason));
        } catch (IOException e) {
            log.debug("could not tell a second successor that we are busy", e);
        }
    }

    /**
     * Runs the handoff. {@code snapshot} is called only once the peer is accepted, so that the manifest
     * describes the listeners as they are at that moment.
     */
    public HandoffResult run(Callable<Snapshot> snapshot) {
        long start = System.nanoTime();
        long peerPid = -1;
        int sent = 0;
        String step = "checking the peer";
        try {
            PeerCredentials peer = wire.peer();
            peerPid = peer.pid();
            step = "waiting for hello";
            Message.Hello hello;
            try (WireChannel.Received<Message> received = wire.receive(config.stepTimeout(), Message.Hello.class)) {
                hello = (Message.Hello) received.message();
            }
            if (!config.allowedUids().contains(peer.uid())) {
                String reason = "peer pid " + peer.pid() + " runs as uid " + peer.uid() + ", allowed: " + config.allowedUids();
                wire.send(new Message.Refused(reason));
                return HandoffResult.of(HandoffResult.Outcome.REFUSED, reason, peerPid, start, 0);
            }
            OptionalInt version = ProtocolVersions.negotiate(hello.versions());
            if (version.isEmpty()) {
                String reason = "no common protocol version: successor speaks " + hello.versions() + ", we speak "
                        + ProtocolVersions.SUPPORTED;
                wire.send(new Message.Refused(reason));
                return HandoffResult.of(HandoffResult.Outcome.REFUSED, reason, peerPid, start, 0);
            }
            wire.fdChannel().limitSendBatch(hello.maxFdsPerMessage());
            peerMaxFdsPerMessage = Math.max(1, Math.min(hello.maxFdsPerMessage(), FdChannel.maxFdsPerMessage()));
            SharedSecret secret = config.secret();
            String nonce = secret == null ? null : SharedSecret.nonce();
            if (secret == null && hello.capabilities() != null && hello.capabilities().contains(Message.SECRET)) {
                wire.send(new Message.Refused("this process has no shared secret"));
                return HandoffResult.of(HandoffResult.Outcome.REFUSED, "successor pid " + peer.pid()
                        + " expects a shared secret and this process has none", peerPid, start, 0);
            }
            if (secret != null && hello.nonce() == null) {
                String reason = "peer pid " + peer.pid() + " sent no nonce, so it cannot prove the shared secret";
                wire.send(new Message.Refused(reason));
                return HandoffResult.of(HandoffResult.Outcome.REFUSED, reason, peerPid, start, 0);
            }
            wire.send(new Message.Welcome(version.getAsInt(), ProcessHandle.current().pid(), generation,
                    FdChannel.maxFdsPerMessage(), secret == null ? List.of() : List.of(Message.SECRET), nonce,
                    secret == null ? null : secret.incumbentProof(hello.nonce(), nonce)));
            if (secret != null) {
                step = "waiting for the successor's proof";
                String refusal = checkProof(secret, hello.nonce(), nonce, peer);
                if (refusal != null) {
                    return HandoffResult.of(HandoffResult.Outcome.REFUSED, refusal, peerPid, start, 0);
                }
            }
            step = "sending the manifest";
            Snapshot handover = snapshot.call();
            wire.send(new Message.Handover(ManifestJson.toTree(handover.manifest())), handover.fds());
            sent = handover.fds().size();
            step = "waiting for READY";
            Message answer;
            try (WireChannel.Received<Message> received = wire.receive(config.readyTimeout(), Message.Ready.class,
                    Message.Failed.class)) {
                answer = received.message();
            }
            if (answer instanceof Message.Failed failed) {
                return HandoffResult.of(HandoffResult.Outcome.FAILED, "successor failed: " + failed.reason(), peerPid,
                        start, sent);
            }
            successorCapabilities = ((Message.Ready) answer).capabilities();
            HandoffResult ready = HandoffResult.of(HandoffResult.Outcome.SUCCEEDED, "ok", peerPid, start, sent);
            step = "probation";
            String probationFailure = watchProbation();
            if (probationFailure != null) {
                return HandoffResult.of(HandoffResult.Outcome.FAILED, probationFailure, peerPid, start, sent);
            }
            return ready;
        } catch (FdChannelException e) {
            return HandoffResult.of(HandoffResult.Outcome.FAILED, step + ": " + describe(e), peerPid, start, sent);
        } catch (Exception e) {
            return HandoffResult.of(HandoffResult.Outcome.FAILED, step + ": " + e, peerPid, start, sent);
        }
    }

    /** Null if the successor proved the secret, else why not (and it has been told). */
    private String checkProof(SharedSecret secret, String successorNonce, String nonce, PeerCredentials peer)
            throws IOException {
        Message answer;
        try (WireChannel.Received<Message> received = wire.receive(config.stepTimeout(), Message.Proof.class,
                Message.Refused.class)) {
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

    /** Whether the READY successor said it adopts established connections, and no hand-over to it failed. */
    public boolean successorAdoptsConnections() {
        return !lost && successorCapabilities.contains(Message.CONNECTIONS);
    }

    /** Whether a hand-over of connections found the successor gone (or unresponsive) after READY. */
    public boolean isLost() {
        return lost;
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
                try (WireChannel.Received<Message> received = wire.receive(config.stepTimeout(), Message.Adopted.class)) {
                    answer = (Message.Adopted) received.message();
                }
                int[] batch = unanswered.poll();
                markAdopted(batch, answer, adopted, problems, onAdopted);
            }
        } catch (IOException | RuntimeException e) {
            lost = true;
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
        try {
            wire.send(new Message.Goodbye(reason));
        } catch (IOException e) {
            log.debug("successor went away before goodbye", e);
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
        while (to < entries.size() && to - from < peerMaxFdsPerMessage && (to == from || bytes < (1 << 20))) {
            bytes += 256 + entries.get(to).unread().length * 4L / 3;
            to++;
        }
        return to;
    }

    /** Null if the successor is still there after the probation period, else what happened. */
    private String watchProbation() throws IOException {
        Duration probation = config.probation();
        if (probation.isZero() || probation.isNegative()) {
            return null;
        }
        try {
            wire.fdChannel().receive(probation).close();
            return "successor sent an unexpected message during probation";
        } catch (FdChannelException e) {
            if (e.kind() == FdChannelException.Kind.TIMEOUT) {
                return null;
            }
            return "successor went away during probation (" + e.getMessage() + ")";
        }
    }

    private static String describe(FdChannelException e) {
        return switch (e.kind()) {
            case CLOSED, SHORT_READ -> "successor closed the connection: " + e.getMessage();
            case TIMEOUT -> "successor timed out: " + e.getMessage();
            default -> e.getMessage();
        };
    }
}
