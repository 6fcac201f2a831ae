"""Entry point of the `darknet` component package: Pulumi's provider host serving the components."""

from darknet_lambda.provider import main

if __name__ == "__main__":
    main()
