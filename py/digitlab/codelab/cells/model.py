def get_model():
    model = Sequential()

    # The first layer of a convolutional network is told the shape of its input: MNIST
    # images are 28 x 28 pixels with one channel (grey).
    # Then: 8 filters of 5 x 5 pixels slide over the image one pixel at a time, and a ReLU
    # keeps what they find.
    model.add(Conv2D(
        filters=8,
        kernel_size=5,
        strides=1,
        activation="relu",
        kernel_initializer="variance_scaling",
        input_shape=(28, 28, 1),
    ))

    # Max pooling keeps the strongest response in each 2 x 2 patch: half the width and height.
    model.add(MaxPooling2D(pool_size=(2, 2), strides=(2, 2)))

    # Again: a convolution, now with 16 filters, and max pooling.
    model.add(Conv2D(
        filters=16,
        kernel_size=5,
        strides=1,
        activation="relu",
        kernel_initializer="variance_scaling",
    ))
    model.add(MaxPooling2D(pool_size=(2, 2), strides=(2, 2)))

    # The maps become one long vector, for the last layer.
    model.add(Flatten())

    # The last layer has 10 outputs, one per digit; softmax turns them into probabilities.
    model.add(Dense(10, kernel_initializer="variance_scaling", activation="softmax"))

    # Adam changes the weights; categorical cross-entropy measures how wrong the network is.
    model.compile(
        optimizer=Adam(0.001),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


model = get_model()
model.summary()
