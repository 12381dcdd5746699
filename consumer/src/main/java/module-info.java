/** A program that depends on panama-bn as a user's would. */
module io.github.panamabn.consumer {
    requires io.github.panamabn.nn;
}
