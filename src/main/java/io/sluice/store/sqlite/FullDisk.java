package io.sluice.store.sqlite;

import io.sluice.domain.SluiceException;
import io.sluice.store.Completion;
import java.util.function.Supplier;

/**
 * Lets consumers start on a full disk: a write that only records where a reader starts (a new
 * group's cursor, a topic a browser waits on) is answered with what it would have stored when the
 * disk has no room for it. Nothing is lost by not storing it: the group's first acknowledgement that
 * fits creates it, at the cursor its reader reached.
 */
final class FullDisk {
    private FullDisk() {
    }

    /** {@code done}, told {@code instead}'s answer in place of a full disk's failure. */
    static <T> Completion<T> orElse(Completion<T> done, Supplier<T> instead) {
        return new Completion<>() {
            @Override
            public void committed(T result) {
                done.committed(result);
            }

            @Override
            public void failed(SluiceException error) {
                if (error instanceof SluiceException.DiskFull) {
                    done.committed(instead.get());
                } else {
                    done.failed(error);
                }
            }
        };
    }
}
