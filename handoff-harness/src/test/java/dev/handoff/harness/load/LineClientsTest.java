package dev.handoff.harness.load;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static dev.handoff.harness.load.RawServer.await;
import static dev.handoff.harness.load.RawServer.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The line-echo clients against a loopback echo server that answers {@code <pid> <line>} (or with a server's
 * name), and one that hangs up.
 */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class LineClientsTest {

    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final Duration INTERVAL = Duration.ofMillis(5);

    @Test
    void everyConnectionExchangesLinesAndRecordsWhoAnswered() throws Exception {
        try (RawServer server = new RawServer((socket, connection) -> echo(socket, 7, Long.MAX_VALUE))) {
            LineClients clients = LineClients.open(server.address(), 3, INTERVAL);
            await(() -> clients.exchanges() >= 30, "30 exchanges", WAIT);
            clients.close();
            assertEquals(List.of(), clients.losses());
            assertEquals(3, clients.alive());
            assertEquals(3, server.accepted(), "opened once, never replaced");
            assertEquals(List.of(Set.of(7L), Set.of(7L), Set.of(7L)), clients.pidsPerConnection());
            assertEquals(1, clients.fewestPidsSeen());
        }
    }

    @Test
    void aConnectionThatTheServerClosesIsLostForGoodWithTheReason() throws Exception {
        try (RawServer server = new RawServer((socket, connection) -> echo(socket, 7, connection == 1 ? 2 : Long.MAX_VALUE))) {
            LineClients clients = LineClients.open(server.address(), 3, INTERVAL);
            await(() -> clients.alive() == 2 && clients.exchanges() >= 20, "a lost connection and 20 exchanges", WAIT);
            clients.close();
            assertEquals(3, server.accepted(), "the lost one was not replaced");
            assertEquals(1, clients.losses().size(), clients.losses().toString());
            assertTrue(clients.losses().get(0).startsWith("connection 1: closed by the server before answering 'c1-3'"),
                    clients.losses().get(0));
        }
    }

    @Test
    void answersUnderAnotherServersNameLoseTheConnection() throws Exception {
        try (RawServer server = new RawServer((socket, connection) -> echo(socket, 7 + " " + (connection == 1 ? "b" : "a"),
                Long.MAX_VALUE))) {
            LineClients clients = LineClients.open(server.address(), "a", 3, INTERVAL);
            await(() -> clients.alive() == 2 && clients.exchanges() >= 20, "a lost connection and 20 exchanges", WAIT);
            clients.close();
            assertEquals(List.of("connection 1: wrong answer to 'c1-1': 7 b c1-1"), clients.losses());
            assertEquals(List.of(Set.of(7L), Set.of(), Set.of(7L)), clients.pidsPerConnection());
        }
    }

    @Test
    void aServerThatIsNotThereFailsTheOpening() throws Exception {
        assertThrows(ConnectException.class, () -> LineClients.open(RawServer.nobodyListening(), 2, INTERVAL));
    }

    /** Answers up to {@code lines} lines with {@code <pid> <line>}, then hangs up. */
    private static void echo(Socket socket, long pid, long lines) throws IOException {
        echo(socket, Long.toString(pid), lines);
    }

    /** Answers up to {@code lines} lines with {@code <prefix> <line>}, then hangs up. */
    private static void echo(Socket socket, String prefix, long lines) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
        String line;
        for (long answered = 0; answered < lines && (line = in.readLine()) != null; answered++) {
            write(socket, prefix + " " + line + "\n");
        }
    }
}
