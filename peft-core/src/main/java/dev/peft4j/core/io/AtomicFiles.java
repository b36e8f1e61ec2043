package dev.peft4j.core.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Atomic publication of files and directories: content is written under a temporary sibling name,
 * flushed to disk, then renamed into place, so a crash never leaves a half-written file or folder
 * under the final name.
 *
 * <p>A file replaces the old one in one rename. A directory cannot (the platform renames onto an
 * empty directory only): the old one is renamed aside to {@code <name>.old-<random>} first, so a
 * process killed between the two renames leaves no {@code <name>} but a complete old copy beside
 * it. {@link #recover(Path)} puts that copy back and deletes the {@code <name>.tmp-<random>}
 * staging left by killed writers; every writer here and the readers of adapter and model folders
 * call it first. One writer per target at a time is assumed.
 */
public final class AtomicFiles {

    private static final Logger LOG = LoggerFactory.getLogger(AtomicFiles.class);
    private static final int NAME_ATTEMPTS = 16;

    private AtomicFiles() {}

    /** A consumer that may throw {@link IOException}. */
    @FunctionalInterface
    public interface IoConsumer<T> {

        /** Consumes the value. */
        void accept(T value) throws IOException;
    }

    /**
     * Repairs what a killed writer of {@code target} left: when {@code target} is missing but a
     * complete previous version was renamed aside ({@code <name>.old-<random>}), it is renamed
     * back (the newest, if there are several); then staging ({@code <name>.tmp-<random>}) and
     * other old copies are deleted. Does nothing when there is nothing to repair.
     */
    public static void recover(Path target) throws IOException {
        Path parent = target.toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            return;
        }
        String name = target.getFileName().toString();
        List<Path> staging = new ArrayList<>();
        List<Path> old = new ArrayList<>();
        try (Stream<Path> siblings = Files.list(parent)) {
            for (Path p : (Iterable<Path>) siblings::iterator) {
                String n = p.getFileName().toString();
                if (n.startsWith(name + ".tmp-")) {
                    staging.add(p);
                } else if (n.startsWith(name + ".old-")) {
                    old.add(p);
                }
            }
        }
        Path absolute = parent.resolve(name);
        if (!Files.exists(absolute, LinkOption.NOFOLLOW_LINKS) && !old.isEmpty()) {
            old.sort(Comparator.comparing(AtomicFiles::modified).reversed());
            Path restore = old.remove(0);
            Files.move(restore, absolute, StandardCopyOption.ATOMIC_MOVE);
            fsyncDirectory(parent);
            LOG.warn("Restored {} from {}, left by an interrupted write", absolute, restore);
        }
        for (Path p : staging) {
            deleteRecursively(p);
        }
        for (Path p : old) {
            deleteRecursively(p);
        }
    }

    /**
     * Widens the window between the two renames of a directory replacement by the milliseconds of
     * the system property {@code peft4j.atomicFiles.renamePauseMillis} (0 by default), so that the
     * crash-safety test can kill a writer inside it; nothing else sets it.
     */
    private static void pauseForCrashTests() {
        long pause = Long.getLong("peft4j.atomicFiles.renamePauseMillis", 0);
        if (pause > 0) {
            try {
                Thread.sleep(pause);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static FileTime modified(Path p) {
        try {
            return Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            return FileTime.fromMillis(0);
        }
    }

    /** Writes {@code target} atomically with the bytes {@code body} writes to the stream it gets. */
    public static void write(Path target, IoConsumer<OutputStream> body) throws IOException {
        try (PendingFile pending = begin(target)) {
            // the stream must not close the channel: commit() still has to fsync it
            OutputStream out =
                    new BufferedOutputStream(Channels.newOutputStream(pending.channel()), 1 << 16);
            body.accept(out);
            out.flush();
            pending.commit();
        }
    }

    /** Writes {@code bytes} to {@code target} atomically. */
    public static void writeBytes(Path target, byte[] bytes) throws IOException {
        write(target, out -> out.write(bytes));
    }

    /** Starts an atomic write of {@code target}; the caller writes through {@link PendingFile#channel()}. */
    public static PendingFile begin(Path target) throws IOException {
        recover(target);
        return new PendingFile(target);
    }

    /**
     * Publishes the directory {@code target} atomically with the files {@code body} creates in the
     * staging directory it gets; an existing {@code target} is replaced only once the new one is
     * complete.
     */
    public static void publishDirectory(Path target, IoConsumer<Path> body) throws IOException {
        try (PendingDirectory pending = beginDirectory(target)) {
            body.accept(pending.directory());
            pending.commit();
        }
    }

    /** Starts an atomic publication of the directory {@code target}. */
    public static PendingDirectory beginDirectory(Path target) throws IOException {
        recover(target);
        return new PendingDirectory(target);
    }

    /** A file being written under a temporary name beside its final name. */
    public static final class PendingFile implements AutoCloseable {

        private final Path target;
        private final Path temporary;
        private final FileChannel channel;
        private boolean committed;

        private PendingFile(Path target) throws IOException {
            this.target = target.toAbsolutePath();
            if (Files.isDirectory(this.target, LinkOption.NOFOLLOW_LINKS)) {
                throw new IOException("Cannot write file " + this.target + ": it is a directory");
            }
            Files.createDirectories(this.target.getParent());
            // createFile, not createTempFile, so the file gets the usual umask permissions
            this.temporary = createUnique(this.target, p -> Files.createFile(p));
            try {
                this.channel =
                        FileChannel.open(
                                temporary, StandardOpenOption.WRITE, StandardOpenOption.READ);
            } catch (IOException e) {
                Files.deleteIfExists(temporary);
                throw e;
            }
        }

        /** The channel to write the content through (positioned at 0, readable too). */
        public FileChannel channel() {
            return channel;
        }

        /** The temporary file the content goes to until {@link #commit()}. */
        public Path temporaryPath() {
            return temporary;
        }

        /** The final name. */
        public Path target() {
            return target;
        }

        /** Flushes the content to disk and renames it to the final name, replacing any old file. */
        public void commit() throws IOException {
            if (committed) {
                throw new IllegalStateException("Already committed: " + target);
            }
            channel.force(true);
            channel.close();
            Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE);
            committed = true;
            fsyncDirectory(target.getParent());
        }

        /** Deletes the temporary file unless {@link #commit()} succeeded. */
        @Override
        public void close() throws IOException {
            if (committed) {
                return;
            }
            try {
                channel.close();
            } finally {
                Files.deleteIfExists(temporary);
            }
        }
    }

    /** A directory being filled under a temporary sibling name. */
    public static final class PendingDirectory implements AutoCloseable {

        private final Path target;
        private final Path staging;
        private boolean committed;

        private PendingDirectory(Path target) throws IOException {
            this.target = target.toAbsolutePath();
            Files.createDirectories(this.target.getParent());
            this.staging = createUnique(this.target, p -> Files.createDirectory(p));
        }

        /** The staging directory to create the content in. */
        public Path directory() {
            return staging;
        }

        /** The final name. */
        public Path target() {
            return target;
        }

        /**
         * Flushes every file of the staging directory to disk and renames it to the final name. An
         * existing target is first renamed aside, restored if the second rename fails, and deleted
         * once the new directory is in place (so between the two renames the name is briefly absent,
         * but never half-written).
         */
        public void commit() throws IOException {
            if (committed) {
                throw new IllegalStateException("Already committed: " + target);
            }
            fsyncTree(staging);
            if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                replaceExisting();
            } else {
                Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
                committed = true;
                fsyncDirectory(target.getParent());
            }
        }

        private void replaceExisting() throws IOException {
            Path aside = createUniqueName(target, "old");
            Files.move(target, aside, StandardCopyOption.ATOMIC_MOVE);
            pauseForCrashTests();
            try {
                Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                try {
                    Files.move(aside, target, StandardCopyOption.ATOMIC_MOVE);
                } catch (IOException restore) {
                    e.addSuppressed(restore);
                }
                throw e;
            }
            committed = true;
            fsyncDirectory(target.getParent());
            try {
                deleteRecursively(aside);
            } catch (IOException | UncheckedIOException e) {
                // the new content is published; a leftover old copy is only wasted space
                LOG.warn(
                        "Published {} but could not delete the previous version at {}",
                        target,
                        aside,
                        e);
            }
        }

        /** Deletes the staging directory unless {@link #commit()} succeeded. */
        @Override
        public void close() throws IOException {
            if (!committed) {
                deleteRecursively(staging);
            }
        }
    }

    /**
     * Deletes {@code path} so that a kill never leaves part of it under its name: it is renamed to
     * a {@code <name>.deleting-<random>} sibling first (atomically), then deleted with everything
     * below it. A kill in between leaves only that sibling, for the caller's next run to remove.
     */
    public static void deleteAtomically(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Path doomed = temporarySibling(path, "deleting");
        Files.move(path, doomed, StandardCopyOption.ATOMIC_MOVE);
        fsyncDirectory(path.toAbsolutePath().getParent());
        deleteRecursively(doomed);
    }

    /** Deletes {@code path} and, if it is a directory, everything below it; absent paths are ignored. */
    public static void deleteRecursively(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        List<Path> all = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(path)) {
            walk.forEach(all::add);
        }
        all.sort(Comparator.reverseOrder());
        for (Path p : all) {
            Files.deleteIfExists(p);
        }
    }

    private static Path temporarySibling(Path target, String kind) {
        String suffix = Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
        return target.resolveSibling(target.getFileName() + "." + kind + "-" + suffix);
    }

    /** A function that creates something at a path and fails if it exists. */
    private interface Creator {
        Path create(Path path) throws IOException;
    }

    /** Creates a {@code <target>.tmp-<hex>} sibling with {@code creator}, retrying on name clashes. */
    private static Path createUnique(Path target, Creator creator) throws IOException {
        for (int i = 0; ; i++) {
            try {
                return creator.create(temporarySibling(target, "tmp"));
            } catch (FileAlreadyExistsException e) {
                if (i >= NAME_ATTEMPTS) {
                    throw e;
                }
            }
        }
    }

    private static Path createUniqueName(Path target, String kind) throws IOException {
        for (int i = 0; i < NAME_ATTEMPTS; i++) {
            Path candidate = temporarySibling(target, kind);
            if (!Files.exists(candidate, LinkOption.NOFOLLOW_LINKS)) {
                return candidate;
            }
        }
        throw new IOException("No free temporary name beside " + target);
    }

    private static void fsyncTree(Path root) throws IOException {
        List<Path> all = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(root)) {
            walk.forEach(all::add);
        }
        for (Path p : all) {
            if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
                    ch.force(true);
                }
            } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                fsyncDirectory(p);
            }
        }
    }

    /** Flushes a directory entry table to disk where the platform allows it (not on Windows). */
    static void fsyncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            LOG.debug("Cannot fsync directory {} on this platform", dir, e);
        }
    }
}
