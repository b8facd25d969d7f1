package dev.handoff.harness;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A start-up archive for a server command's JVM, made by {@code train}: on JDK 25 and later an AOT cache
 * ({@code -XX:AOTCacheOutput} / {@code -XX:AOTCache}: classes loaded and linked ahead of time, and method
 * profiles), on JDK 17-24 a dynamic application class-data archive ({@code -XX:ArchiveClassesAtExit} /
 * {@code -XX:SharedArchiveFile}).
 *
 * <p>Beside it, {@code <archive>.fingerprint} records what it was made for: the JVM and the class path's
 * files (size, time and content). A JVM given an archive that no longer fits starts without it (or with part of it) and, depending on
 * the JDK, says nothing; here the command is compared with the fingerprint first, and an archive that does
 * not fit is left out with a warning that says what changed. It never fails a start.
 */
public final class StartupArchive {

    /** The first JDK whose AOT cache is made in one run ({@code -XX:AOTCacheOutput}, JEP 514). */
    static final int AOT_CACHE_FEATURE = 25;
    private static final Pattern SETTING = Pattern.compile("^\\s*(java\\.vm\\.version|java\\.home|java\\.specification\\.version) = (.*)$");

    private final Path archive;

    public StartupArchive(Path archive) {
        this.archive = archive.toAbsolutePath().normalize();
    }

    public Path path() {
        return archive;
    }

    Path fingerprintFile() {
        return archive.resolveSibling(archive.getFileName() + ".fingerprint");
    }

    /** The command, its JVM ({@code jvm}) told to write this archive when it exits. */
    List<String> recording(List<String> command, Jvm jvm) {
        return withJvmFlag(command, (jvm.makesAotCache() ? "-XX:AOTCacheOutput=" : "-XX:ArchiveClassesAtExit=") + archive);
    }

    /**
     * The command, its JVM told to use this archive, if the archive fits it; otherwise the command as it is,
     * and {@code warnings} hears why.
     */
    public List<String> using(List<String> command, Consumer<String> warnings) throws InterruptedException {
        try {
            Jvm jvm = Jvm.of(command);
            Optional<String> misfit = misfit(command, jvm);
            if (misfit.isPresent()) {
                warnings.accept("starting without the start-up archive " + archive + ": " + misfit.get());
                return command;
            }
            return withJvmFlag(command, (jvm.makesAotCache() ? "-XX:AOTCache=" : "-XX:SharedArchiveFile=") + archive);
        } catch (IOException e) {
            warnings.accept("starting without the start-up archive " + archive + ": " + e.getMessage());
            return command;
        }
    }

    /** Records what the archive was made for, once {@code jvm}, the command's, has written it. */
    void writeFingerprint(List<String> command, Jvm jvm) throws IOException {
        Properties fingerprint = fingerprintOf(command, jvm);
        try (Writer out = Files.newBufferedWriter(fingerprintFile(), StandardCharsets.UTF_8)) {
            fingerprint.store(out, "what " + archive.getFileName() + " was trained for");
        }
    }

    /** Why the archive does not fit the command, if it does not. */
    Optional<String> misfit(List<String> command, Jvm jvm) throws IOException {
        if (!Files.isRegularFile(archive)) {
            return Optional.of("there is no archive at " + archive);
        }
        if (!Files.isRegularFile(fingerprintFile())) {
            return Optional.of("there is no " + fingerprintFile().getFileName() + " beside it (train writes one)");
        }
        Properties trained = new Properties();
        try (Reader in = Files.newBufferedReader(fingerprintFile(), StandardCharsets.UTF_8)) {
            trained.load(in);
        }
        Properties now = fingerprintOf(command, jvm);
        for (String key : new TreeSet<>(trained.stringPropertyNames())) {
            if (!trained.getProperty(key).equals(now.getProperty(key))) {
                return Optional.of("it was trained for " + key + " " + trained.getProperty(key) + ", this command has "
                        + Optional.ofNullable(now.getProperty(key)).orElse("none"));
            }
        }
        if (!now.stringPropertyNames().equals(trained.stringPropertyNames())) {
            return Optional.of("the class path differs from the one it was trained for: " + Launch.of(command).classPath());
        }
        return Optional.empty();
    }

    private static Properties fingerprintOf(List<String> command, Jvm jvm) throws IOException {
        Properties fingerprint = new Properties();
        fingerprint.setProperty("java.vm.version", jvm.version());
        fingerprint.setProperty("java.home", jvm.home());
        // Module options (--add-opens, ...) that differ make a JDK 25 JVM drop the whole AOT cache.
        Launch launch = Launch.of(command);
        fingerprint.setProperty("jvm-options", String.join(" ", launch.jvmOptions()));
        // Each entry as written, not only the file it names: a JDK 25 JVM given the same jar by another path
        // (relative, absolute) takes the AOT cache all the same, and its classes then have no code source
        // location, which an application asking where its jar is cannot survive.
        List<Path> classPath = launch.classPath();
        for (int i = 0; i < classPath.size(); i++) {
            Path entry = classPath.get(i);
            Path file = entry.toAbsolutePath().normalize();
            // Size and time are what the JVM itself checks; the content is what a reproducible build keeps them for.
            String state = Files.isRegularFile(file)
                    ? Files.size(file) + " bytes, modified " + Files.getLastModifiedTime(file).toMillis()
                            + ", content " + ContentDigest.of(file)
                    : Files.isDirectory(file) ? "directory" : "missing";
            fingerprint.setProperty("class-path." + i, entry + " (" + state + ")");
        }
        return fingerprint;
    }

    /** The JVM's options in a {@code java} command line, and where it loads application classes from. */
    record Launch(List<String> jvmOptions, List<Path> classPath) {

        /** Options of the {@code java} launcher whose value is the next argument. */
        private static final Set<String> WITH_VALUE = Set.of("--add-opens", "--add-exports",
                "--add-reads", "--add-modules", "--enable-native-access", "--limit-modules", "--patch-module",
                "--module-path", "-p", "--upgrade-module-path");

        static Launch of(List<String> command) {
            List<String> options = new ArrayList<>();
            for (int i = 1; i < command.size(); i++) {
                String arg = command.get(i);
                boolean last = i + 1 == command.size();
                if (arg.equals("-jar") && !last) {
                    return new Launch(options, List.of(Path.of(command.get(i + 1))));
                }
                if ((arg.equals("-cp") || arg.equals("-classpath") || arg.equals("--class-path")) && !last) {
                    List<Path> entries = new ArrayList<>();
                    for (String entry : command.get(i + 1).split(":")) {
                        if (!entry.isEmpty()) {
                            entries.add(Path.of(entry));
                        }
                    }
                    return new Launch(options, entries);
                }
                if (!arg.startsWith("-")) {
                    break; // the main class, and no class path given
                }
                options.add(arg);
                if (WITH_VALUE.contains(arg) && !last) {
                    options.add(command.get(++i));
                }
            }
            return new Launch(options, List.of());
        }
    }

    /** The flag goes right after {@code java}, before anything that could end the JVM's options. */
    private static List<String> withJvmFlag(List<String> command, String flag) {
        List<String> result = new ArrayList<>(command);
        result.add(1, flag);
        return result;
    }

    /** The JVM a command runs: its feature version, full version and home, as it reports them itself. */
    record Jvm(int feature, String version, String home) {

        /** Whether its archive is an AOT cache rather than a class-data archive. */
        boolean makesAotCache() {
            return feature >= AOT_CACHE_FEATURE;
        }

        static Jvm of(List<String> command) throws IOException, InterruptedException {
            if (command.isEmpty()) {
                throw new IOException("no command");
            }
            Process process = new ProcessBuilder(command.get(0), "-XshowSettings:properties", "-version")
                    .redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                process.destroyForcibly();
                throw new IOException("'" + command.get(0) + " -version' failed: " + output.strip());
            }
            String version = null;
            String home = null;
            String specification = null;
            for (String line : output.split("\n")) {
                Matcher setting = SETTING.matcher(line);
                if (setting.matches()) {
                    switch (setting.group(1)) {
                        case "java.vm.version" -> version = setting.group(2).strip();
                        case "java.home" -> home = setting.group(2).strip();
                        default -> specification = setting.group(2).strip();
                    }
                }
            }
            if (version == null || home == null || specification == null) {
                throw new IOException("'" + command.get(0) + "' did not say its version: " + output.strip());
            }
            return new Jvm(Integer.parseInt(specification), version, home);
        }
    }
}
