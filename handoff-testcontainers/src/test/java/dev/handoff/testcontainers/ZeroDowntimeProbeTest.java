package dev.handoff.testcontainers;

import dev.handoff.harness.load.FailureKind;
import dev.handoff.harness.load.RawServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.BufferedReader;
import java.io.EOFException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static dev.handoff.harness.load.RawServer.await;
import static dev.handoff.harness.load.RawServer.readRequest;
import static dev.handoff.harness.load.RawServer.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The probe against loopback servers that answer well, and that fail in each way the probe reports. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class ZeroDowntimeProbeTest {

    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final Pattern PID = Pattern.compile("\"pid\":(\\d+)");

    @Test
    void keptConnectionsAreReportedWithWhoAnsweredOnEach() throws Exception {
        try (RawServer server = new RawServer((socket, connection) -> {
            InputStream in = socket.getInputStream();
            for (int answered = 0; readRequest(in); answered++) {
                // The first ten answers from one pid, the rest from another: as if the connection moved.
                write(socket, "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"pid\":" + (answered < 10 ? 1111 : 2222) + "}");
            }
        })) {
            ZeroDowntimeProbe probe = ZeroDowntimeProbe.builder().http(server.address(), 2, "/", PID)
                    .pause(Duration.ofMillis(1)).start();
            probe.awaitEveryConnectionAnsweredByAtLeast(2, WAIT);
            probe.awaitMoreExchanges(50, WAIT);
            ProbeReport report = probe.stop();
            report.assertNoFailures();
            report.assertEveryConnectionKept();
            report.assertEveryConnectionAnsweredByAtLeast(2);
            assertEquals(Map.of("http-0#1", List.of("1111", "2222"), "http-1#1", List.of("1111", "2222")), report.answeredBy());
            assertEquals(2, server.accepted());
            assertTrue(report.latencyMillis(99) >= report.latencyMillis(50) && report.latencyMillis(50) > 0, report.toString());
            AssertionError fewer = assertThrows(AssertionError.class, () -> report.assertEveryConnectionAnsweredByAtLeast(3));
            assertTrue(fewer.getMessage().contains("fewer than 3"), fewer.getMessage());
            probe.awaitEveryConnectionAnsweredByAtLeast(2, WAIT); // stopped: what it saw stays
        }
    }

    @Test
    void aConnectionCloseAnswerEndsTheConnectionWithoutAFailure() throws Exception {
        try (RawServer server = new RawServer((socket, connection) -> {
            if (readRequest(socket.getInputStream())) {
                write(socket, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
            }
        })) {
            ZeroDowntimeProbe probe = ZeroDowntimeProbe.builder().http(server.address(), 1).pause(Duration.ofMillis(1)).start();
            probe.awaitMoreExchanges(3, WAIT);
            ProbeReport report = probe.stop();
            report.assertNoFailures();
            assertTrue(report.connectionsClosedByServer() >= 3, report.toString());
            assertTrue(report.connectionsOpened() >= 3, report.toString());
            assertThrows(AssertionError.class, report::assertEveryConnectionKept);
        }
    }

    /** Each failure the probe reports, provoked on purpose, is reported as that kind and as nothing else. */
    @ParameterizedTest
    @EnumSource(value = FailureKind.class, names = {"REFUSED", "RESET", "EARLY_EOF", "TIMEOUT", "BAD_STATUS"})
    void eachFailureIsReportedAsItsKind(FailureKind kind) throws Exception {
        RawServer.Handler failing = switch (kind) {
            case RESET -> (socket, connection) -> {
                if (readRequest(socket.getInputStream())) {
                    socket.setSoLinger(true, 0); // closed with RST
                }
            };
            case EARLY_EOF -> (socket, connection) -> {
                if (readRequest(socket.getInputStream())) {
                    write(socket, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"pid\":");
                }
            };
            case TIMEOUT -> (socket, connection) -> {
                readRequest(socket.getInputStream());
                readRequest(socket.getInputStream()); // never answers: waits for the client to give up
            };
            case BAD_STATUS -> (socket, connection) -> {
                InputStream in = socket.getInputStream();
                while (readRequest(in)) {
                    write(socket, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
                }
            };
            default -> null;
        };
        try (RawServer server = failing == null ? null : new RawServer(failing)) {
            InetSocketAddress target = server == null ? RawServer.nobodyListening() : server.address();
            ZeroDowntimeProbe probe = ZeroDowntimeProbe.builder().http(target, 1).timeout(Duration.ofMillis(200))
                    .pause(Duration.ofMillis(1)).start();
            await(() -> probe.failures() >= 3, "3 failures", WAIT);
            ProbeReport report = probe.stop();
            assertEquals(report.failures(kind), report.failures(), () -> "only " + kind + ": " + report.failureSamples());
            assertTrue(report.failureSamples().get(0).startsWith(kind + ": "), report.failureSamples().get(0));
            assertEquals(0, report.exchanges());
            assertThrows(AssertionError.class, report::assertNoFailures);
        }
    }

    @Test
    void lineClientsCheckTheirLineAndSeeWhoAnswered() throws Exception {
        try (RawServer server = new RawServer((socket, connection) -> {
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
            String line;
            while ((line = in.readLine()) != null) {
                write(socket, "7 " + line + "\n");
            }
        })) {
            ZeroDowntimeProbe probe = ZeroDowntimeProbe.builder().lines(server.address(), 2, Pattern.compile("^(\\d+) "))
                    .pause(Duration.ofMillis(1)).start();
            probe.awaitMoreExchanges(20, WAIT);
            ProbeReport report = probe.stop();
            report.assertNoFailures();
            report.assertEveryConnectionKept();
            assertEquals(Map.of("line-0#1", List.of("7"), "line-1#1", List.of("7")), report.answeredBy());
            AssertionError nameless = assertThrows(AssertionError.class, () -> ZeroDowntimeProbe.builder()
                    .lines(server.address(), 1, null).pause(Duration.ofMillis(1)).start().stop()
                    .assertEveryConnectionAnsweredByAtLeast(1));
            assertTrue(nameless.getMessage().contains("no answer named"), nameless.getMessage());
        }
    }

    @Test
    void aWrongLineIsABadAnswerAndTheConnectionStaysInUse() throws Exception {
        try (RawServer server = new RawServer((socket, connection) -> {
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
            while (in.readLine() != null) {
                write(socket, "something else\n");
            }
        })) {
            ZeroDowntimeProbe probe = ZeroDowntimeProbe.builder().lines(server.address(), 1, null).pause(Duration.ofMillis(1)).start();
            await(() -> probe.failures() >= 3, "3 failures", WAIT);
            ProbeReport report = probe.stop();
            assertEquals(report.failures(), report.failures(FailureKind.BAD_STATUS), report.failureSamples().toString());
            assertEquals(1, report.connectionsOpened(), "a bad answer does not cost the connection");
        }
    }

    /** Your own protocol: the probe counts what its connections say, and reads failures from their exceptions. */
    @Test
    void aConnectionOfYourOwnProtocolIsCountedLikeTheBuiltInOnes() throws Exception {
        int[] exchanges = {0};
        ZeroDowntimeProbe probe = ZeroDowntimeProbe.builder().connections("mine", 1, () -> new ProbeConnection() {
            @Override
            public Answer exchange() throws EOFException {
                if (++exchanges[0] % 5 == 0) {
                    throw new EOFException("every fifth answer is cut short");
                }
                return new Answer("v" + (exchanges[0] < 5 ? 1 : 2), false);
            }

            @Override
            public void close() {
            }
        }).pause(Duration.ofMillis(1)).start();
        await(() -> probe.failures() >= 2, "2 failures", WAIT);
        ProbeReport report = probe.stop();
        assertEquals(report.failures(), report.failures(FailureKind.EARLY_EOF), report.failureSamples().toString());
        assertEquals(report.failures(), report.connectionsClosedByServer(), "each failure cost its connection: " + report);
        assertEquals(List.of("v1"), report.answeredBy().get("mine-0#1"));
        assertEquals(List.of("v2"), report.answeredBy().get("mine-0#2"));
    }
}
