package org.carevisor.agent.storage;

import java.nio.file.Path;
import org.carevisor.agent.AgentException;
import org.carevisor.qemu.ImageChain;
import org.carevisor.qemu.ImageChains;
import org.carevisor.qemu.ImageHeader;
import org.carevisor.qemu.QemuException;

/**
 * The agent's gate before qemu-img opens an existing image of the storage: the image's backing chain is walked and
 * checked ({@link ImageChains}) with the format Carevisor recorded for it, and a refusal becomes a 422
 * ({@code backing-file-refused} or {@code disk-image-refused}) naming the disk and the bad file. Thread-safe
 * (stateless).
 */
final class DiskImages {
    private final ImageChains chains;

    DiskImages(Path root, Path localRoot) {
        this.chains = new ImageChains(root, localRoot);
    }

    /** The checked chain of the image at {@code file}, recorded as {@code format}; {@code what} names it in errors. */
    ImageChain check(String what, Path file, String format) {
        if (format == null) {
            throw AgentException.badRequest("format-missing", "the format of " + what + " is not given; the agent"
                    + " never guesses an image's format");
        }
        try {
            return chains.check(what, file, format);
        } catch (QemuException e) {
            throw refusal(e);
        }
    }

    /** Like {@link #check}, and the image must stand alone (no backing file). */
    ImageChain standAlone(String what, Path file, String format) {
        ImageChain chain = check(what, file, format);
        if (!chain.backing().isEmpty()) {
            throw new AgentException(422, "disk-image-refused", what + " has the backing file "
                    + chain.backing().get(0).file() + "; it must be a stand-alone image here");
        }
        return chain;
    }

    /**
     * Refuses a raw image whose first bytes look like another image format: such a file is safe inside Carevisor
     * (it is always opened as raw) but must not leave it in an export file, where a tool that guesses formats would
     * take it for that format (and an import refuses it).
     */
    static void requireRawLooksRaw(String what, Path file) {
        String other;
        try {
            other = ImageHeader.lookalike(ImageHeader.head(file));
        } catch (QemuException e) {
            throw refusal(e);
        }
        if (other != null) {
            throw new AgentException(422, "disk-image-refused", what + " is a raw disk whose content starts like a "
                    + other + " image (its guest wrote that); it is not exported, because a tool that guesses formats"
                    + " would read it as one. Clear the disk's first sectors in the guest, or keep the VM as it is");
        }
    }

    static AgentException refusal(QemuException e) {
        int status = e.code().equals("invalid-path") ? 400 : 422;
        return new AgentException(status, e.code(), e.getMessage(), e);
    }
}
