def show_examples(data):
    # The first 20 test images: float32 pixels from 0 to 1, shape (20, 28, 28, 1), and their
    # labels, one-hot, shape (20, 10).
    examples, labels = data.test(20)
    show.examples(examples, labels)


show_examples(data)
