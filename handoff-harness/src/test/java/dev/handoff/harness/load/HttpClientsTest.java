package dev.handoff.harness.load;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static dev.handoff.harness.load.RawServer.await;
import static dev.handoff.harness.load.RawServer.readRequest;
import static dev.handoff.harness.load.RawServer.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The HTTP load clients against loopback servers that answer well, and in each way that counts as a failure. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class HttpClientsTest {

    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final Duration PAUSE = Duration.ofMillis(1);

    @Test
    void keepAliveResponsesWithALengthAreCountedWithTheirPidOnOneConnectionPerClient() throws Exception {
        try (RawServer server = new RawServer(answeringEach("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"pid\":4242}"))) {
            HttpClients clients = HttpClients.start(server.address(), 2, PAUSE);
            await(() -> clients.requests() >= 50, "50 requests", WAIT);
            clients.close();
            assertEquals(0, clients.failures(), () -> "failures: " + clients.failureSamples());
            assertEquals(Set.of(4242L), clients.pids());
            assertEquals(2, server.accepted(), "each client kept its connection");
            assertTrue(clients.latencyMillis(99) >= clients.latencyMillis(50) && clients.latencyMillis(50) > 0);
        }
    }

    @Test
    void aChunkedResponseThatSaysConnectionCloseIsFollowedByAFreshConnection() throws Exception {
        try (RawServer server = new RawServer((socket, connection) -> {
            if (readRequest(socket.getInputStream())) {
                write(socket, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                        + "7\r\n{\"pid\":\r\n4;ext=1\r\n" + (100 + connection) + "}\r\n0\r\n\r\n");
            }
        })) {
            HttpClients clients = HttpClients.start(server.address(), 1, PAUSE);
            await(() -> clients.requests() >= 3, "3 requests", WAIT);
            clients.close();
            assertEquals(0, clients.failures(), () -> "failures: " + clients.failureSamples());
            assertEquals(clients.requests(), server.accepted(), "one connection per request");
            assertTrue(clients.pids().containsAll(Set.of(100L, 101L, 102L)), "pids from the chunked bodies: " + clients.pids());
        }
    }

    @Test
    void aPortNobodyListensOnIsRefused() throws Exception {
        assertOnlyFailures(RawServer.nobodyListening(), FailureKind.REFUSED);
    }

    @Test
    void aConnectionClosedInsteadOfAnsweredIsAnEarlyEof() throws Exception {
        try (RawServer server = new RawServer((socket, connection) -> readRequest(socket.getInputStream()))) {
            assertOnlyFailures(server.address(), FailureKind.EARLY_EOF);
        }
    }

    @Test
    void aConnectionClosedInTheMiddleOfABodyIsAnEarlyEof() throws Exception {
        try (RawServer server = new RawServer((socket, connection) -> {
            if (readRequest(socket.getInputStream())) {
                write(socket, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"pid\":");
            }
        })) {
            assertOnlyFailures(server.address(), FailureKind.EARLY_EOF);
        }
    }

    @Test
    void aConnectionResetInsteadOfAnsweredIsAReset() throws Exception {
        try (RawServer server = new RawServer((socket, connection) -> {
            if (readRequest(socket.getInputStream())) {
                socket.setSoLinger(true, 0); // close with RST
            }
        })) {
            assertOnlyFailures(server.address(), FailureKind.RESET);
        }
    }

    @Test
    void anAnswerOtherThan200IsABadStatus() throws Exception {
        try (RawServer server = new RawServer(answeringEach("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"))) {
            assertOnlyFailures(server.address(), FailureKind.BAD_STATUS);
        }
    }

    /** Answers every request on a connection with {@code response}, keeping the connection open. */
    private static RawServer.Handler answeringEach(String response) {
        return (socket, connection) -> {
            InputStream in = socket.getInputStream();
            while (readRequest(in)) {
                write(socket, response);
            }
        };
    }

    private static void assertOnlyFailures(InetSocketAddress target, FailureKind kind) throws Exception {
        HttpClients clients = HttpClients.start(target, 1, PAUSE);
        await(() -> clients.failures(kind) >= 3, "3 failures of kind " + kind + " (samples: " + clients.failureSamples() + ")", WAIT);
        clients.close();
        assertEquals(0, clients.requests());
        assertEquals(clients.failures(kind), clients.failures(), () -> "only " + kind + ": " + clients.failureSamples());
        assertTrue(clients.failureSamples().get(0).startsWith(kind + ": "), clients.failureSamples().get(0));
    }
}
