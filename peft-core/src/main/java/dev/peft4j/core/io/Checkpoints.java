package dev.peft4j.core.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Opens a model checkpoint in either format: safetensors (preferred) or PyTorch {@code .bin}. */
public final class Checkpoints {

    private Checkpoints() {}

    /**
     * A folder holding {@code model.safetensors} (or its index) is read with {@link
     * CheckpointReader}; one holding only {@code pytorch_model.bin} (or its index), or a {@code
     * .bin} file, with {@link TorchBinReader}.
     */
    public static TensorSource open(Path location) throws IOException {
        boolean torch =
                Files.isDirectory(location)
                        ? !Files.isRegularFile(location.resolve(CheckpointReader.SINGLE_FILE))
                                && !Files.isRegularFile(
                                        location.resolve(CheckpointReader.INDEX_FILE))
                                && TorchBinReader.isTorchFolder(location)
                        : location.getFileName().toString().endsWith(".bin")
                                || location.getFileName()
                                        .toString()
                                        .equals(TorchBinReader.INDEX_FILE);
        return torch ? TorchBinReader.open(location) : CheckpointReader.open(location);
    }
}
