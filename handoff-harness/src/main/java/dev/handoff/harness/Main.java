package dev.handoff.harness;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * {@code java -jar handoff-harness.jar demo [restarts]}, {@code compare [options]} (both with
 * {@code --server-jar PATH} and {@code --archive PATH}), {@code supervise [--archive PATH] -- <server command...>}, {@code train ...}
 * (a start-up archive: {@link Trainer}), or {@code hold}.
 */
public final class Main {

    static final String USAGE = "usage: java -jar handoff-harness.jar demo [restarts] [--server-jar PATH] [--archive PATH]"
            + "  |  compare [options] [--server-jar PATH] [--archive PATH]  |  supervise [--archive PATH] -- <server command...>"
            + "  |  train --archive PATH [--http HOST:PORT] [--requests N] [--ready REGEX] -- <server command...>  |  hold";

    public static void main(String[] args) throws Exception {
        try {
            System.exit(run(args));
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(64);
        }
    }

    private static int run(String[] args) throws Exception {
        if (args.length == 0) {
            throw new IllegalArgumentException(USAGE);
        }
        List<String> rest = new ArrayList<>(Arrays.asList(args).subList(1, args.length));
        return switch (args[0]) {
            case "demo" -> Demo.run(serverJar(rest), archive(rest), rest);
            case "compare" -> RestartComparison.run(serverJar(rest), archive(rest), rest);
            case "supervise" -> Supervisor.run(rest);
            case "train" -> Trainer.run(rest);
            case "hold" -> hold();
            default -> throw new IllegalArgumentException("unknown command " + args[0] + "; " + USAGE);
        };
    }

    /**
     * A holder container: owns the network namespace (and the published ports) that each version's
     * container joins; it only has to stay up.
     */
    private static int hold() throws InterruptedException {
        System.out.println("HOLDING pid=" + ProcessHandle.current().pid());
        Thread.sleep(Long.MAX_VALUE);
        return 0;
    }

    /** {@code --archive PATH} (taken out of {@code args}): a start-up archive made by {@code train}, or null. */
    private static StartupArchive archive(List<String> args) {
        return take(args, "--archive").map(path -> new StartupArchive(Path.of(path))).orElse(null);
    }

    /** The value of {@code option} in {@code args}, both taken out of them; empty if it is not there. */
    static Optional<String> take(List<String> args, String option) {
        int index = args.indexOf(option);
        if (index < 0) {
            return Optional.empty();
        }
        if (index + 1 >= args.size()) {
            throw new IllegalArgumentException("missing value after " + option + "; " + USAGE);
        }
        String value = args.remove(index + 1);
        args.remove(index);
        return Optional.of(value);
    }

    /**
     * The sample server's executable jar: {@code --server-jar PATH} (taken out of {@code args}), or by
     * default where a build of this repository puts it (this jar in handoff-harness/target, the server's in
     * sample-server/target), or beside this jar (as in the Docker image's /app).
     */
    private static Path serverJar(List<String> args) throws URISyntaxException {
        Optional<String> given = take(args, "--server-jar");
        if (given.isPresent()) {
            Path jar = Path.of(given.get());
            if (!Files.isRegularFile(jar)) {
                throw new IllegalArgumentException("no sample server jar at " + jar);
            }
            return jar;
        }
        Path home = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI()).getParent();
        List<Path> candidates = List.of(home.resolve("../../sample-server/target/sample-server.jar").normalize(),
                home.resolve("sample-server.jar"));
        return candidates.stream().filter(Files::isRegularFile).findFirst().orElseThrow(() -> new IllegalArgumentException(
                "no sample server jar at " + candidates + ": build it (mvn -q -DskipTests package) or give --server-jar PATH"));
    }

    private Main() {
    }
}
