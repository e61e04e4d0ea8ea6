def predict_drawing(model, pixels):
    # pixels: the drawing as an MNIST digit, 28 x 28 grey values from 0 to 1. The model takes
    # a batch of images, so this is a batch of one, shape (1, 28, 28, 1).
    batch = pixels.reshape(1, 28, 28, 1)
    probabilities = model.predict(batch, verbose=0)[0]
    show.probabilities(probabilities)
    return probabilities


predict_drawing(model, pixels)
