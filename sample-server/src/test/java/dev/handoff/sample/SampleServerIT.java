package dev.handoff.sample;

import dev.handoff.core.testing.JavaChild;
import dev.handoff.core.testing.RawSuccessor;
import dev.handoff.harness.ServerProcesses;
import dev.handoff.harness.load.HttpClients;
import dev.handoff.harness.load.LineClients;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real executable jar, run as child processes with the command line the README documents, under
 * real load on loopback.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SampleServerIT {

    private static final Path JAR = Path.of("target", "sample-server.jar");
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path temp;

    private ServerProcesses servers;
    private InetSocketAddress http;
    private InetSocketAddress echo;
    private Path socket;
    private List<String> args;
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @BeforeEach
    void ports() throws Exception {
        servers = new ServerProcesses(JAR, temp.resolve("servers.log"));
        http = new InetSocketAddress("127.0.0.1", ServerProcesses.freePort());
        echo = new InetSocketAddress("127.0.0.1", ServerProcesses.freePort());
        socket = temp.resolve("run").resolve("sample.sock");
        args = List.of("--http", "127.0.0.1:" + http.getPort(), "--echo", "127.0.0.1:" + echo.getPort(),
                "--socket", socket.toString());
    }

    @AfterEach
    void stop() throws Exception {
        servers.close();
    }

    @Test
    void restartsUnderLoadFailNoRequestAndKeepEveryEchoConnectionWhileThePidChanges() throws Exception {
        servers.start(args);
        long incumbent = servers.awaitReady(1, WAIT);
        HttpClients load = HttpClients.start(http, 4, Duration.ofNanos(500_000));
        LineClients fleet = LineClients.open(echo, 8, Duration.ofMillis(20));
        try {
            for (int generation = 2; generation <= 5; generation++) {
                servers.start(args);
                long successor = servers.awaitReady(generation, WAIT);
                Matcher exit = ServerProcesses.HANDED_OVER.matcher(servers.awaitExit(incumbent, WAIT));
                assertTrue(exit.lookingAt(), "the old copy reports its handoff");
                assertEquals(Long.toString(successor), exit.group(2));
                assertEquals(0, servers.exitStatus(incumbent, WAIT).orElseThrow(), "the old copy exits with status 0");
                incumbent = successor;
                Thread.sleep(200);
            }
        } finally {
            load.close();
            fleet.close();
        }
        assertEquals(0, load.failures(), () -> "failed requests: " + load.failureSamples());
        assertTrue(load.requests() > 100, "the load ran: " + load.requests());
        assertEquals(5, load.pids().size(), "every generation answered HTTP: " + load.pids());
        assertEquals(List.of(), fleet.losses());
        assertEquals(8, fleet.alive());
        assertEquals(5, fleet.fewestPidsSeen(), () -> "each echo connection was answered by all five generations: "
                + fleet.pidsPerConnection());
        assertEquals(incumbent, pidOf(get("/")));
    }

    @Test
    void aSlowRequestInFlightDuringTheRestartCompletesFromTheOldProcess() throws Exception {
        servers.start(args);
        long incumbent = servers.awaitReady(1, WAIT);
        get("/"); // the client's first request loads its classes; the slow one must be in flight quickly
        CompletableFuture<HttpResponse<String>> slow = client.sendAsync(
                HttpRequest.newBuilder(uri("/slow?ms=1500")).build(), HttpResponse.BodyHandlers.ofString());
        Thread.sleep(200);
        servers.start(args);
        long successor = servers.awaitReady(2, WAIT);
        HttpResponse<String> response = slow.get(30, TimeUnit.SECONDS);
        assertEquals(200, response.statusCode());
        assertEquals(incumbent, pidOf(response.body()), response.body());
        assertTrue(response.body().contains("\"sleptMs\":1500"), response.body());
        servers.awaitExit(incumbent, WAIT);
        assertEquals(0, servers.exitStatus(incumbent, WAIT).orElseThrow());
        // The connection it came on was handed over once the answer was written.
        HttpResponse<String> next = client.send(HttpRequest.newBuilder(uri("/")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(successor, pidOf(next.body()));
        assertTrue(next.body().contains("\"generation\":2"), next.body());
    }

    @Test
    void sighupMakesTheRunningCopyStartItsOwnSuccessor() throws Exception {
        servers.start(args);
        long first = servers.awaitReady(1, WAIT);
        try (LineClients fleet = LineClients.open(echo, 2, Duration.ofMillis(20))) {
            ServerProcesses.signal(first, "HUP");
            long second = servers.awaitReady(2, WAIT);
            assertNotEquals(first, second);
            String upgrade = servers.await(line -> line.startsWith("UPGRADE "), "UPGRADE", WAIT);
            assertTrue(upgrade.startsWith("UPGRADE SUCCEEDED pid=" + second), upgrade);
            servers.awaitExit(first, WAIT);
            assertEquals(0, servers.exitStatus(first, WAIT).orElseThrow(), "the old copy exits with status 0");
            assertTrue(ProcessHandle.of(second).orElseThrow().isAlive());
            String body = get("/");
            assertEquals(second, pidOf(body));
            assertTrue(body.contains("\"generation\":2"), body);
            Thread.sleep(200);
            assertEquals(2, fleet.alive());
            assertEquals(2, fleet.fewestPidsSeen());
        }
    }

    @Test
    void aSuccessorKilledBeforeReadyLeavesTheIncumbentServingEveryConnection() throws Exception {
        servers.start(args);
        long incumbent = servers.awaitReady(1, WAIT);
        HttpClients load = HttpClients.start(http, 2, Duration.ofMillis(1));
        LineClients fleet = LineClients.open(echo, 4, Duration.ofMillis(20));
        try {
            for (String step : List.of("hello", "manifest")) {
                try (JavaChild successor = JavaChild.start(RawSuccessor.class, socket.toString(), step)) {
                    successor.awaitLine("AT " + step, WAIT);
                    successor.kill9();
                }
                Thread.sleep(300);
            }
        } finally {
            load.close();
            fleet.close();
        }
        assertEquals(0, load.failures(), () -> "failed requests: " + load.failureSamples());
        assertEquals(Set.of(incumbent), load.pids());
        assertEquals(List.of(), fleet.losses());
        assertEquals(1, fleet.fewestPidsSeen());
        // And it can still be taken over properly afterwards.
        servers.start(args);
        long successor = servers.awaitReady(2, WAIT);
        servers.awaitExit(incumbent, WAIT);
        assertEquals(successor, pidOf(get("/")));
    }

    @Test
    void aSuccessorKilledWhileConnectionsMoveLeavesTheIncumbentServingThemAndAcceptingAgain() throws Exception {
        servers.start(args);
        long incumbent = servers.awaitReady(1, WAIT);
        HttpClients load = HttpClients.start(http, 2, Duration.ofMillis(1));
        LineClients fleet = LineClients.open(echo, 4, Duration.ofMillis(20));
        try {
            try (JavaChild successor = JavaChild.start(RawSuccessor.class, socket.toString(), "connections")) {
                successor.awaitLine("AT connections", WAIT);
                successor.kill9();
            }
            String resumed = servers.await(line -> line.startsWith("RESUMED pid=" + incumbent), "RESUMED", WAIT);
            assertTrue(resumed.contains("generation=1"), resumed);
            Thread.sleep(500);
            assertEquals(incumbent, pidOf(get("/")), "new connections are accepted by the incumbent again");
        } finally {
            load.close();
            fleet.close();
        }
        assertEquals(0, load.failures(), () -> "failed requests: " + load.failureSamples());
        assertEquals(List.of(), fleet.losses());
        assertEquals(Set.of(incumbent), load.pids());
        servers.start(args);
        long successor = servers.awaitReady(2, WAIT);
        servers.awaitExit(incumbent, WAIT);
        assertEquals(successor, pidOf(get("/")));
    }

    @Test
    void aCopyStartedAfterTheServerWasKilledStartsColdAndSaysWhy() throws Exception {
        Process first = servers.start(args);
        long crashed = servers.awaitReady(1, WAIT);
        assertTrue(servers.await(line -> line.startsWith("COLD START pid=" + crashed + ": no incumbent"), "COLD START", WAIT)
                .contains(socket.toString()));
        first.destroyForcibly();
        assertTrue(first.waitFor(30, TimeUnit.SECONDS));
        // Its socket file is still there, with nobody behind it: the new copy must not wait for or fail on it.
        servers.start(args);
        long recovered = servers.awaitReady(1, WAIT);
        String cold = servers.await(line -> line.startsWith("COLD START pid=" + recovered + ": "), "COLD START", WAIT);
        assertTrue(cold.contains("stale socket"), cold);
        assertEquals(recovered, pidOf(get("/")));
    }

    @Test
    void aCopyWhoseRendezvousCannotBeBoundSaysWhyAndExitsInsteadOfServingUnreachable() throws Exception {
        Path open = Files.createDirectories(temp.resolve("open"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxr-xr-x"));
        Process process = new ProcessBuilder(SampleServer.command("--http", "127.0.0.1:" + http.getPort(),
                "--socket", open.resolve("sample.sock").toString())).redirectErrorStream(true).start();
        String output;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            output = in.lines().reduce("", (a, b) -> a + b + "\n");
        }
        assertEquals(2, process.waitFor());
        assertTrue(output.contains("FAILED rendezvous directory " + open + " has mode rwxr-xr-x"), output);
    }

    @Test
    void theCommandLineIsChecked() throws Exception {
        Process process = new ProcessBuilder(SampleServer.command("--http", "127.0.0.1:1")).redirectErrorStream(true).start();
        String output;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            output = in.lines().reduce("", (a, b) -> a + b + "\n");
        }
        assertEquals(64, process.waitFor());
        assertTrue(output.contains("--socket is required"), output);
    }

    private String get(String path) throws Exception {
        HttpResponse<String> response = client.send(HttpRequest.newBuilder(uri(path)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response.body());
        return response.body();
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + http.getPort() + path);
    }

    private static long pidOf(String json) {
        Matcher matcher = java.util.regex.Pattern.compile("\"pid\":(\\d+)").matcher(json);
        assertTrue(matcher.find(), json);
        return Long.parseLong(matcher.group(1));
    }
}
